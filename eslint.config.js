// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

const WHY = 'see the dependency table in CONTRIBUTING.md';

/**
 * The module dependency table of ARCHITECTURE.md as lint: what each module may
 * import (through the other module's index.ts only), and why the rest is out.
 * `types` lists modules it may use for types alone.
 */
const MODULE_RULES = {
  core: { may: [], why: 'core is the shared leaf and imports Node built-ins only' },
  frontend: {
    may: ['core', 'solver/ir'],
    why: 'the frontend only produces IR; it reaches the engine through interfaces',
  },
  solver: { may: ['core'], why: 'the solver is generic: it never sees files, processes or HTTP' },
  cache: { may: ['core'], why: 'the cache owns content and refs, not keys; the worker adapts' },
  runtime: {
    may: ['core'],
    why: 'the runtime receives mounts and a process spec and knows nothing else',
  },
  'registry-client': {
    may: ['core'],
    why: 'the registry client returns streams; the worker stores them',
  },
  worker: {
    may: ['core', 'solver', 'cache', 'runtime', 'registry-client'],
    types: ['frontend'],
    why: 'the worker is below the CLI and the service, and takes only types from the frontend',
  },
  builder: {
    may: ['core', 'frontend', 'solver', 'worker'],
    why: 'a build is lowered, solved and exported; the surfaces (CLI, service) call it',
  },
  remote: {
    may: ['core', 'frontend'],
    why: 'the remote builder protocol is shared by the CLI and the service and knows neither',
  },
  cli: {
    may: ['core', 'frontend', 'solver', 'worker', 'builder', 'daemon', 'remote'],
    why: 'the CLI is a thin adapter over builder/ (and starts the service of daemon/)',
  },
  daemon: {
    may: [
      'core',
      'frontend',
      'solver',
      'cache',
      'runtime',
      'registry-client',
      'worker',
      'builder',
      'remote',
    ],
    why: 'the service composes every module but the CLI and the tests (shared code lives in builder/)',
  },
};

const MODULES = Object.keys(MODULE_RULES);

/** `../`-relative import patterns a module's files may not use. */
function restrictedImportPatterns(module) {
  const rule = MODULE_RULES[module];
  const patterns = [];
  for (const other of [...MODULES, 'test']) {
    if (other === module) continue;
    const allowedWhole = rule.may.includes(other);
    const allowedIr = other === 'solver' && rule.may.includes('solver/ir');
    const typesOnly = rule.types?.includes(other) === true;
    if (allowedWhole || typesOnly) {
      patterns.push({
        regex: `^(\\.\\./)+${other}/(?!index\\.js$).+`,
        message: `import ${other} through its index.ts (${WHY})`,
      });
    }
    if (allowedIr) {
      patterns.push({
        regex: `^(\\.\\./)+solver/(?!ir/index\\.js$).*`,
        message: `${rule.why}: only solver/ir/index.js (${WHY})`,
      });
    }
    if (!allowedWhole && !allowedIr) {
      patterns.push({
        regex: `^(\\.\\./)+${other}(/|$)`,
        message:
          other === 'test'
            ? 'production code never imports the test harness'
            : `${module} may not import ${other}: ${rule.why} (${WHY})`,
        ...(typesOnly ? { allowTypeImports: true } : {}),
      });
    }
  }
  return patterns;
}

const commonSyntaxBans = [
  {
    selector: 'TSEnumDeclaration',
    message: 'use a union of string literals: enums are not erasable syntax',
  },
  {
    selector:
      'CallExpression[callee.object.name=/^(it|test|describe)$/][callee.property.name=/^(skip|todo)$/]',
    message:
      'a skipped test is a failing test under CI: use requires() from test/harness to state a requirement',
  },
];

const throwOnlyTbuildError = {
  selector: 'ThrowStatement > NewExpression[callee.name=/^(Error|TypeError|RangeError)$/]',
  message: 'throw a TbuildError with a code from core/errors.ts',
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '**/build/', 'coverage/'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'bin/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: false }],
      'no-restricted-syntax': ['error', ...commonSyntaxBans, throwOnlyTbuildError],
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'read configuration once at the edge (cli/, daemon/) and pass it in',
        },
      ],
      'no-console': ['error'],
    },
  },
  // Each module imports only what the dependency table allows, through index.ts.
  ...MODULES.map((module) => ({
    files: [`${module}/**/*.ts`],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: restrictedImportPatterns(module) },
      ],
    },
  })),
  {
    // The edges: the CLI prints, and the CLI and service read the environment.
    files: ['cli/**/*.ts', 'daemon/**/*.ts', 'bin/*.js'],
    rules: { 'no-restricted-properties': 'off', 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.test.ts', '*.config.ts'],
    rules: {
      'no-restricted-properties': 'off',
      'no-console': 'off',
      'no-restricted-syntax': ['error', ...commonSyntaxBans],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // The web view's page runs in a browser, not in Node.
    files: ['daemon/web/static/**/*.js'],
    languageOptions: {
      // Browser files: no TypeScript project holds them, so no type-aware parsing.
      parserOptions: { projectService: false, project: false },
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'sessionStorage',
          'fetch',
          'URLSearchParams',
          'TextDecoder',
          'TextDecoderStream',
          'AbortController',
          'Event',
          'HTMLElement',
          'Node',
          'atob',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
