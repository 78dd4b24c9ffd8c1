import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { chooseDockerignore, createIgnoreMatcher, parseDockerignore } from './index.js';

/** testdata/cases.txt: a context tree, .dockerignore lines, and the files Docker keeps. */
interface IgnoreCase {
  readonly line: number;
  readonly check: string;
  readonly ignoreLines: string[];
  readonly tree: readonly string[];
  readonly kept: readonly string[] | { readonly error: string };
}

function readCases(): IgnoreCase[] {
  const text = readFileSync(new URL('testdata/cases.txt', import.meta.url), 'utf8');
  const cases: IgnoreCase[] = [];
  let tree: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (line.startsWith('@tree ')) {
      tree = line.slice(6).trim().split(/\s+/);
      return;
    }
    if (line === '' || line.startsWith('#')) return;
    const [check, ignoreJson, expected] = line.split(' ‖ ').map((part) => part.trim());
    if (check === undefined || ignoreJson === undefined || expected === undefined) {
      throw new Error(`cases.txt line ${String(index + 1)}: expected three fields`);
    }
    cases.push({
      line: index + 1,
      check,
      ignoreLines: JSON.parse(ignoreJson) as string[],
      tree,
      kept: expected.startsWith('!error')
        ? { error: expected.slice(6).trim() }
        : expected === '(none)'
          ? []
          : expected.split(/\s+/),
    });
  });
  return cases;
}

const cases = readCases();

describe('.dockerignore table (testdata/cases.txt)', () => {
  it('has enough cases, most of them confirmed by dockerd', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(cases.filter((c) => c.check === 'dockerd').length).toBeGreaterThanOrEqual(40);
    for (const c of cases) expect(['dockerd', 'fsutil']).toContain(c.check);
  });

  it.each(
    cases.map((c) => [`line ${String(c.line)}: ${JSON.stringify(c.ignoreLines)}`, c] as const),
  )('%s', (_, c) => {
    const text = c.ignoreLines.map((l) => `${l}\n`).join('');
    if ('error' in c.kept) {
      let caught: unknown;
      try {
        createIgnoreMatcher(parseDockerignore(text, '.dockerignore'));
      } catch (error) {
        caught = error;
      }
      expect(isTbuildError(caught, 'TB_DOCKERIGNORE'), 'expected TB_DOCKERIGNORE').toBe(true);
      expect((caught as Error).message).toMatch(/^\.dockerignore:\d+: /);
      return;
    }
    const matcher = createIgnoreMatcher(parseDockerignore(text, '.dockerignore'));
    const kept = c.tree.filter((file) => !matcher.excludes(file));
    expect(kept.sort()).toEqual([...c.kept].sort());
  });
});

describe('parseDockerignore', () => {
  it('keeps line numbers, negation and cleaned patterns as ignorefile.ReadAll does', () => {
    const rules = parseDockerignore(
      '\uFEFF# comment\n\n/abs/path/\r\n! ./neg/../x \n  spaced  \na//b/./c\n!!bang\n',
      'ctx/.dockerignore',
    );
    expect(rules).toEqual([
      { pattern: 'abs/path', negate: false, line: 3 },
      { pattern: 'x', negate: true, line: 4 },
      { pattern: 'spaced', negate: false, line: 5 },
      { pattern: 'a/b/c', negate: false, line: 6 },
      { pattern: '!bang', negate: true, line: 7 },
    ]);
  });

  it('names the file and line of an invalid pattern', () => {
    expect(() => parseDockerignore('ok\n\nsrc/[a-\n', 'app/.dockerignore')).toThrow(
      /^app\/\.dockerignore:3: invalid pattern "src\/\[a-": syntax error in pattern/,
    );
  });
});

describe('IgnoreMatcher.mayContainIncluded', () => {
  const matcher = (text: string) => createIgnoreMatcher(parseDockerignore(text, '.dockerignore'));

  it('lets a walker skip an excluded directory only when no negation can reach inside it', () => {
    expect(matcher('build\n').mayContainIncluded('build')).toBe(false);
    expect(matcher('build\n!build/keep.txt\n').mayContainIncluded('build')).toBe(true);
    expect(matcher('build\n!build/keep.txt\n').mayContainIncluded('build/sub')).toBe(false);
    expect(matcher('build\n!other/x\n').mayContainIncluded('build')).toBe(false);
    // A negation with wildcards may match at any depth, so every excluded directory must be read.
    expect(matcher('build\n!**/keep.txt\n').mayContainIncluded('build')).toBe(true);
    expect(matcher('*.md\n').mayContainIncluded('src')).toBe(true);
  });

  it('treats "./dir/" like "dir" and never excludes the context root', () => {
    const m = matcher('**\n');
    expect(m.excludes('./build/')).toBe(true);
    expect(m.excludes('.')).toBe(false);
    expect(m.excludes('')).toBe(false);
  });
});

describe('chooseDockerignore', () => {
  const existing =
    (...paths: string[]) =>
    (path: string) =>
      paths.includes(path);

  it('prefers <Dockerfile>.dockerignore beside the Dockerfile', () => {
    expect(
      chooseDockerignore({
        dockerfilePath: '/src/docker/app.Dockerfile',
        contextDir: '/src',
        exists: existing('/src/docker/app.Dockerfile.dockerignore', '/src/.dockerignore'),
      }),
    ).toBe('/src/docker/app.Dockerfile.dockerignore');
  });

  it('falls back to the context .dockerignore, or none', () => {
    const options = { dockerfilePath: '/src/Dockerfile', contextDir: '/src' };
    expect(chooseDockerignore({ ...options, exists: existing('/src/.dockerignore') })).toBe(
      '/src/.dockerignore',
    );
    expect(chooseDockerignore({ ...options, exists: existing() })).toBeUndefined();
    expect(
      chooseDockerignore({
        dockerfilePath: '-',
        contextDir: '/c',
        exists: existing('-.dockerignore'),
      }),
    ).toBeUndefined();
  });
});
