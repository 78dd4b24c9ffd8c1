import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, TbuildError, isTbuildError, toTbuildError } from './errors.js';

const docsPath = new URL('../docs/errors.md', import.meta.url);

function documentedCodes(): Map<string, string> {
  const text = readFileSync(docsPath, 'utf8');
  const codes = new Map<string, string>();
  for (const match of text.matchAll(/^## (TB_[A-Z0-9_]+)\n\nClass: (\w+)\./gm)) {
    codes.set(match[1] ?? '', match[2] ?? '');
  }
  return codes;
}

describe('error catalog', () => {
  it('documents every code in docs/errors.md with its class', () => {
    const documented = documentedCodes();
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      expect(documented.get(code), `docs/errors.md is missing or misclassifies ${code}`).toBe(
        entry.errorClass,
      );
    }
  });

  it('has no documented code that the catalog lacks', () => {
    const catalog = new Set(Object.keys(ERROR_CATALOG));
    const stale = [...documentedCodes().keys()].filter((code) => !catalog.has(code));
    expect(stale).toEqual([]);
  });
});

describe('TbuildError', () => {
  it('round-trips through plain data, as across a thread boundary', () => {
    const original = new TbuildError('TB_DOCKERFILE_SYNTAX', 'bad line', {
      hint: 'fix it',
      details: { line: 3 },
      source: { file: 'Dockerfile', startLine: 3, endLine: 3, lines: ['RUNN x'] },
    });
    const copy = TbuildError.fromJSON(structuredClone(original.toJSON()));
    expect(copy).toMatchObject({
      code: 'TB_DOCKERFILE_SYNTAX',
      errorClass: 'InvalidArgument',
      message: 'bad line',
      hint: 'fix it',
      details: { line: 3 },
    });
    expect(copy.source?.lines).toEqual(['RUNN x']);
  });

  it('recognises errors by code, not by prototype', () => {
    const plain = { ...new TbuildError('TB_CANCELED', 'x').toJSON(), errorClass: 'Canceled' };
    expect(isTbuildError(plain, 'TB_CANCELED')).toBe(true);
    expect(isTbuildError(new Error('x'))).toBe(false);
    expect(isTbuildError({ code: 'TB_NOPE', errorClass: 'Internal' })).toBe(false);
  });

  it('wraps foreign errors and keeps the cause', () => {
    const cause = new RangeError('boom');
    const wrapped = toTbuildError(cause, 'TB_FILE_READ');
    expect(wrapped.code).toBe('TB_FILE_READ');
    expect(wrapped.cause).toBe(cause);
    expect(toTbuildError(wrapped)).toBe(wrapped);
  });
});
