// @ts-check
import eslint from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const WHY = 'see the dependency table in CONTRIBUTING.md';

/**
 * The module dependency table of ARCHITECTURE.md as lint: one zone per rule,
 * each with the reason. `target` may not import from `from`.
 */
const moduleZones = [
  {
    target: './core',
    from: [
      './frontend',
      './solver',
      './cache',
      './runtime',
      './registry-client',
      './worker',
      './cli',
      './daemon',
      './test',
    ],
    message: `core is the shared leaf and imports Node built-ins only (${WHY})`,
  },
  {
    target: './frontend',
    from: ['./cache', './runtime', './registry-client', './worker', './cli', './daemon', './test'],
    message: `the frontend only produces IR; it reaches the engine through interfaces (${WHY})`,
  },
  {
    target: './frontend',
    from: './solver',
    except: ['./ir'],
    message: `the frontend may use solver/ir but never the scheduler (${WHY})`,
  },
  {
    target: './solver',
    from: [
      './frontend',
      './cache',
      './runtime',
      './registry-client',
      './worker',
      './cli',
      './daemon',
      './test',
    ],
    message: `the solver is generic: it never sees files, processes or HTTP (${WHY})`,
  },
  {
    target: './cache',
    from: [
      './frontend',
      './solver',
      './runtime',
      './registry-client',
      './worker',
      './cli',
      './daemon',
      './test',
    ],
    message: `the cache owns content and refs, not keys; the worker adapts (${WHY})`,
  },
  {
    target: './runtime',
    from: [
      './frontend',
      './solver',
      './cache',
      './registry-client',
      './worker',
      './cli',
      './daemon',
      './test',
    ],
    message: `the runtime receives mounts and a process spec and knows nothing else (${WHY})`,
  },
  {
    target: './registry-client',
    from: [
      './frontend',
      './solver',
      './cache',
      './runtime',
      './worker',
      './cli',
      './daemon',
      './test',
    ],
    message: `the registry client returns streams; the worker stores them (${WHY})`,
  },
  {
    target: './worker',
    from: ['./cli', './daemon', './test'],
    message: `the worker is below the CLI and the service (${WHY})`,
  },
  {
    target: './cli',
    from: ['./cache', './runtime', './registry-client', './daemon', './test'],
    message: `the CLI drives builds through worker, frontend and solver (${WHY})`,
  },
  {
    target: [
      './core',
      './frontend',
      './solver',
      './cache',
      './runtime',
      './registry-client',
      './worker',
      './cli',
      './daemon',
    ],
    from: './test',
    message: 'production code never imports the test harness',
  },
];

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

const MODULES = [
  'core',
  'frontend',
  'solver',
  'cache',
  'runtime',
  'registry-client',
  'worker',
  'cli',
  'daemon',
];

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
    plugins: { 'import-x': importX },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: moduleZones }],
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
  {
    // Each module is used through its index.ts only.
    files: MODULES.map((name) => `${name}/**/*.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: MODULES.map((name) => ({
            // solver/ir has its own index.ts: the part of solver the frontend may use.
            regex: `^(\\.\\./)+${name}/(?!index\\.js$${name === 'solver' ? '|ir/index\\.js$' : ''}).+`,
            message: `import ${name} through its index.ts (${WHY})`,
          })),
        },
      ],
    },
  },
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
);
