import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { expandWord, expandWords, type ExpandOptions } from './index.js';

/** One line of testdata/expansion-cases.txt (its format is described at the top of that file). */
interface ExpansionCase {
  readonly line: number;
  readonly check: string;
  readonly kind: 'word' | 'words';
  readonly input: string;
  readonly expected: { readonly error: string } | { readonly value: string | string[] };
  readonly env: Readonly<Record<string, string>>;
  readonly escape: ExpandOptions['escape'];
}

function field(text: string): string {
  const trimmed = text.trim();
  return trimmed.startsWith('json:') ? (JSON.parse(trimmed.slice(5)) as string) : trimmed;
}

function readCases(): ExpansionCase[] {
  const text = readFileSync(new URL('testdata/expansion-cases.txt', import.meta.url), 'utf8');
  const cases: ExpansionCase[] = [];
  let env: Record<string, string> = {};
  let escape: ExpandOptions['escape'] = '\\';
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('@env ')) {
      env = JSON.parse(line.slice(5)) as Record<string, string>;
      return;
    }
    if (line.startsWith('@escape ')) {
      const value = line.slice(8).trim();
      if (value !== '\\' && value !== '`') throw new Error(`line ${String(index + 1)}: bad escape`);
      escape = value;
      return;
    }
    const parts = line.split(' ‖ ');
    const [head, input, expected] = parts;
    const [check, kind] = (head ?? '').split(/\s+/);
    if (parts.length !== 3 || input === undefined || expected === undefined || check === undefined)
      throw new Error(`line ${String(index + 1)}: expected "<check> <kind> ‖ <input> ‖ <result>"`);
    if (kind !== 'word' && kind !== 'words') throw new Error(`line ${String(index + 1)}: kind`);
    const want = expected.trim();
    cases.push({
      line: index + 1,
      check,
      kind,
      input: field(input),
      expected: want.startsWith('!error')
        ? { error: want.slice(6).trim() }
        : { value: kind === 'words' ? (JSON.parse(want) as string[]) : field(expected) },
      env,
      escape,
    });
  });
  return cases;
}

const cases = readCases();

describe('expansion table (testdata/expansion-cases.txt)', () => {
  it('is large and marks where each expectation comes from', () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
    for (const c of cases) expect(['dockerd', 'buildkit', 'lexgo']).toContain(c.check);
    expect(cases.some((c) => c.escape === '`')).toBe(true);
    expect(cases.some((c) => c.kind === 'words')).toBe(true);
  });

  it.each(cases.map((c) => [`line ${String(c.line)}: ${c.input}`, c] as const))('%s', (_, c) => {
    const lookup = (name: string): string | undefined =>
      Object.hasOwn(c.env, name) ? c.env[name] : undefined;
    const run = (): string | string[] =>
      c.kind === 'word'
        ? expandWord(c.input, lookup, { escape: c.escape })
        : expandWords(c.input, lookup, { escape: c.escape });
    if ('error' in c.expected) {
      let caught: unknown;
      try {
        run();
      } catch (error) {
        caught = error;
      }
      expect(isTbuildError(caught), `expected an error for ${c.input}`).toBe(true);
      if (!isTbuildError(caught)) return;
      expect(caught.code).toBe('TB_DOCKERFILE_EXPANSION');
      expect(caught.message).toContain(c.expected.error);
      expect(caught.message).toContain(JSON.stringify(c.input));
    } else {
      expect(run()).toEqual(c.expected.value);
    }
  });
});
