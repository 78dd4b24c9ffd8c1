import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { seededRandom } from '../convert/fuzz-harness.js';
import { parseDockerfile, parseInstruction } from './index.js';

/**
 * parseDockerfile on thousands of random and mutated Dockerfiles must either
 * return or throw a TbuildError of a Dockerfile code: never a TypeError, a
 * RangeError or an internal error. Deterministic: a fixed-seed generator.
 */
const root = join(import.meta.dirname, 'testdata');
const seeds = readdirSync(root, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort()
  .map((name) => readFileSync(join(root, name, 'Dockerfile'), 'utf8'));

const FRAGMENTS = [
  '\\',
  '`',
  '"',
  "'",
  '<<',
  '<<-',
  '<<EOF',
  'EOF',
  '[',
  ']',
  '["a", 1]',
  '--',
  '--mount=',
  '--mount=type=cache,target=/x',
  '--link',
  '--from=',
  '=',
  ',',
  '$',
  '${',
  '#',
  '# escape=`',
  '# syntax=x',
  '\n',
  '\r\n',
  '\t',
  ' ',
  '\u0000',
  '\uFEFF',
  'é',
  '🐳',
  '\u2028',
  '\u00a0',
  'FROM scratch\n',
  'RUN ',
  'COPY ',
  'ONBUILD ',
  'HEALTHCHECK ',
  'AS ',
];

function pick<T>(next: () => number, items: readonly T[]): T {
  const item = items[Math.floor(next() * items.length)];
  if (item === undefined) throw new Error('empty pick');
  return item;
}

function mutate(text: string, next: () => number): string {
  const chars = Array.from(text);
  const lines = text.split('\n');
  const at = Math.floor(next() * (chars.length + 1));
  switch (Math.floor(next() * 8)) {
    case 0:
      chars.splice(at, 1 + Math.floor(next() * 4));
      return chars.join('');
    case 1:
      chars.splice(at, 0, ...chars.slice(at, at + 1 + Math.floor(next() * 6)));
      return chars.join('');
    case 2: {
      const other = Math.floor(next() * chars.length);
      const a = chars[at];
      const b = chars[other];
      if (a !== undefined && b !== undefined) {
        chars[at] = b;
        chars[other] = a;
      }
      return chars.join('');
    }
    case 3:
      chars.splice(at, 0, pick(next, FRAGMENTS));
      return chars.join('');
    case 4: {
      const line = Math.floor(next() * lines.length);
      lines.splice(line, 1);
      return lines.join('\n');
    }
    case 5: {
      const line = Math.floor(next() * lines.length);
      lines.splice(line, 0, lines[line] ?? '');
      return lines.join('\n');
    }
    case 6: {
      const a = Math.floor(next() * lines.length);
      const b = Math.floor(next() * lines.length);
      const lineA = lines[a];
      const lineB = lines[b];
      if (lineA !== undefined && lineB !== undefined) {
        lines[a] = lineB;
        lines[b] = lineA;
      }
      return lines.join('\n');
    }
    default:
      return chars.join('') + pick(next, seeds);
  }
}

function randomText(next: () => number): string {
  let text = '';
  const parts = 1 + Math.floor(next() * 30);
  for (let i = 0; i < parts; i++) {
    text +=
      next() < 0.7 ? pick(next, FRAGMENTS) : String.fromCodePoint(Math.floor(next() * 0x2fff));
  }
  return text;
}

function outcome(work: () => unknown): string {
  try {
    work();
    return 'ok';
  } catch (error) {
    if (!isTbuildError(error)) return `escaped ${String(error)}`;
    if (!error.code.startsWith('TB_DOCKERFILE_')) return `${error.code}: ${error.message}`;
    return error.source === undefined ? `no source: ${error.message}` : 'dockerfile error';
  }
}

describe('parser fuzz', () => {
  it('only ever returns or throws a located Dockerfile TbuildError', () => {
    const next = seededRandom(0x7b1d);
    const failures: string[] = [];
    let parsed = 0;
    for (let round = 0; round < 4000; round++) {
      let text = next() < 0.15 ? randomText(next) : pick(next, seeds);
      const mutations = 1 + Math.floor(next() * 5);
      for (let m = 0; m < mutations; m++) text = mutate(text, next);
      const result = outcome(() => parseDockerfile(text, { file: 'Dockerfile' }));
      if (result === 'ok') parsed++;
      else if (result !== 'dockerfile error') failures.push(`${result}\n--- input ---\n${text}`);
      const escape = next() < 0.5 ? '\\' : '`';
      const single = outcome(() => parseInstruction(text, { file: 'trigger', escape }));
      if (single !== 'ok' && single !== 'dockerfile error')
        failures.push(`${single}\n--- trigger ---\n${text}`);
    }
    expect(failures.slice(0, 3)).toEqual([]);
    // The mutations must leave enough valid Dockerfiles for the test to mean something.
    expect(parsed).toBeGreaterThan(500);
  });
});
