import { execFileSync } from 'node:child_process';
import { access, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runTbuild } from '../harness/index.js';

/**
 * First contact: `tbuild` on the PATH after set-up (scripts/install-bin.sh, which
 * scripts/setup.sh runs), from any directory; `tbuild --version`; and a lock
 * whose packages all run on the oldest Node that package.json's engines allow,
 * so `npm ci` warns about none.
 */
let binDir = '';

beforeAll(async () => {
  binDir = await mkdtemp(join(tmpdir(), 'tbuild-e2e-bin-'));
});

afterAll(async () => {
  if (binDir !== '') await rm(binDir, { recursive: true, force: true });
});

const VERSION_LINE = /^tbuild \d+\.\d+\.\d+ \(node v\d+\.\d+\.\d+, linux\/\w+\)\n$/;

describe('tbuild --version', () => {
  it('prints the version line of `tbuild version`, as -v does', () => {
    const long = runTbuild(['--version']);
    expect(long.code, long.stderr).toBe(0);
    expect(long.stdout).toMatch(VERSION_LINE);
    expect(runTbuild(['-v']).stdout).toBe(long.stdout);
    expect(runTbuild(['version']).stdout).toBe(long.stdout);
  });
});

describe('scripts/install-bin.sh', () => {
  it('puts tbuild on the PATH, runnable from another directory', async () => {
    const installed = execFileSync('bash', [join(REPO_ROOT, 'scripts/install-bin.sh')], {
      env: { ...process.env, TBUILD_BIN_DIR: binDir },
      encoding: 'utf8',
    });
    expect(installed).toContain(`${binDir}/tbuild`);
    expect(await readlink(join(binDir, 'tbuild'))).toBe(join(REPO_ROOT, 'bin/tbuild.js'));
    // Only the bin directory and the system's: no npx, no node_modules/.bin.
    const version = execFileSync('tbuild', ['--version'], {
      cwd: tmpdir(),
      env: { PATH: `${binDir}:/usr/local/bin:/usr/bin:/bin`, HOME: tmpdir() },
      encoding: 'utf8',
    });
    expect(version).toMatch(VERSION_LINE);
  });
});

describe('the Node version tbuild supports', () => {
  it('every package in the lock runs on the oldest Node that engines allows', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const oldest = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
    expect(oldest, `engines.node "${pkg.engines.node}" is not >=MAJOR.MINOR`).not.toBeNull();
    const node: Version = [Number(oldest?.[1]), Number(oldest?.[2]), 0];
    const lock = JSON.parse(await readFile(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; engines?: { node?: string } }>;
    };
    const unsupported = Object.entries(lock.packages)
      .filter(([, entry]) => entry.engines?.node !== undefined)
      .filter(([, entry]) => !satisfies(node, entry.engines?.node ?? ''))
      .map(
        ([path, entry]) =>
          `${path}@${entry.version ?? '?'} wants node ${entry.engines?.node ?? ''}`,
      );
    expect(unsupported).toEqual([]);
  });
});

describe('the documents a clone starts from', () => {
  it('point only at files inside the repository, docs/architecture.md first', async () => {
    for (const file of ['README.md', 'CONTRIBUTING.md', 'docs/dev/README.md']) {
      const text = await readFile(join(REPO_ROOT, file), 'utf8');
      expect(text, file).not.toContain('../shared/');
      // Every `docs/….md` (or `../….md` from docs/dev) they name exists.
      for (const [, named] of text.matchAll(/`((?:docs\/|\.\.\/)[\w./-]+\.md)`/g)) {
        const path = named?.startsWith('../') === true ? join('docs', named.slice(3)) : named;
        await expect(
          access(join(REPO_ROOT, path ?? '')),
          `${file} names ${named ?? ''}`,
        ).resolves.toBeUndefined();
      }
    }
    expect(await readFile(join(REPO_ROOT, 'CONTRIBUTING.md'), 'utf8')).toContain(
      '`docs/architecture.md`',
    );
  });
});

type Version = readonly [number, number, number];

/** npm's range forms that engines use: `||` of space-separated `>=`, `>`, `<`, `<=`, `^`, `~`, `20`, `20.x`. */
function satisfies(version: Version, range: string): boolean {
  // `>= 10` is `>=10`: an operator may stand apart from its version.
  const compact = range.replace(/(>=|<=|>|<|\^|~|=)\s+/g, '$1');
  return compact.split('||').some((alternative) =>
    alternative
      .trim()
      .split(/\s+/)
      .filter((part) => part !== '')
      .every((comparator) => matches(version, comparator)),
  );
}

function matches(version: Version, comparator: string): boolean {
  const parsed = /^(>=|<=|>|<|\^|~|=)?\s*v?(\d+|[x*])(?:\.(\d+|[x*]))?(?:\.(\d+|[x*]))?/.exec(
    comparator,
  );
  if (parsed === null) return true;
  const operator = parsed[1] ?? '';
  const parts = [parsed[2], parsed[3], parsed[4]].map((part) =>
    part === undefined || part === 'x' || part === '*' ? undefined : Number(part),
  );
  const bound: Version = [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
  const order = compare(version, bound);
  switch (operator) {
    case '>=':
      return order >= 0;
    case '>':
      return order > 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '^':
      return order >= 0 && version[0] === bound[0];
    case '~':
      return order >= 0 && version[0] === bound[0] && version[1] === bound[1];
    default:
      // `20`, `20.x`, `=20.1.2`: the given parts must be equal.
      return parts.every((part, index) => part === undefined || part === version[index]);
  }
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}
