import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { parseDockerfile } from './index.js';

/**
 * The fixture corpus, after BuildKit's parser testfiles: each folder of
 * testdata/ holds a Dockerfile and either expected.json (the parse, without
 * `file` and `lines`) or error.json (code, a fragment of the message, line).
 */
const root = join(import.meta.dirname, 'testdata');
const cases = readdirSync(root, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

interface ExpectedError {
  readonly code: string;
  readonly message: string;
  readonly line: number;
}

function parseCase(name: string) {
  const text = readFileSync(join(root, name, 'Dockerfile'), 'utf8');
  return parseDockerfile(text, { file: `${name}/Dockerfile` });
}

describe('Dockerfile fixtures', () => {
  it('has a corpus of at least 60 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  for (const name of cases) {
    const errorFile = join(root, name, 'error.json');
    if (existsSync(errorFile)) {
      it(`${name} fails`, () => {
        const expected = JSON.parse(readFileSync(errorFile, 'utf8')) as ExpectedError;
        let caught: unknown;
        try {
          parseCase(name);
        } catch (error) {
          caught = error;
        }
        expect(isTbuildError(caught)).toBe(true);
        if (!isTbuildError(caught)) return;
        expect(caught.code).toBe(expected.code);
        expect(caught.message).toContain(expected.message);
        expect(caught.message.startsWith(`${name}/Dockerfile:${String(expected.line)}: `)).toBe(
          true,
        );
        expect(caught.source?.file).toBe(`${name}/Dockerfile`);
        expect(caught.source?.startLine).toBe(expected.line);
        const source = caught.source;
        if (source !== undefined) {
          expect(source.lines.length).toBe(Math.max(0, source.endLine - source.startLine + 1));
        }
      });
    } else {
      it(`${name} parses`, () => {
        const expected: unknown = JSON.parse(
          readFileSync(join(root, name, 'expected.json'), 'utf8'),
        );
        const { file, lines, ...parsed } = parseCase(name);
        expect(file).toBe(`${name}/Dockerfile`);
        expect(lines.length).toBeGreaterThan(0);
        expect(JSON.parse(JSON.stringify(parsed))).toEqual(expected);
      });
    }
  }
});
