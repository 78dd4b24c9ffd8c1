import { describe, expect, it } from 'vitest';
import { closestMatch, editDistance } from './suggest.js';

describe('closestMatch', () => {
  const instructions = ['RUN', 'COPY', 'ADD', 'FROM', 'WORKDIR', 'ENTRYPOINT', 'EXPOSE', 'ENV'];

  it.each([
    ['RUNN', 'RUN'],
    ['runn', 'RUN'],
    ['CPOY', 'COPY'],
    ['WORKDRI', 'WORKDIR'],
    ['ENTRYPONT', 'ENTRYPOINT'],
  ])('suggests %s → %s', (word, expected) => {
    expect(closestMatch(word, instructions)).toBe(expected);
  });

  it('suggests nothing for a word unlike every candidate', () => {
    expect(closestMatch('XYZZY', instructions)).toBeUndefined();
  });

  it('counts a transposition as one edit', () => {
    expect(editDistance('copy', 'cpoy')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
