import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nativeFs } from '../../runtime/index.js';
import { ListingMemo } from './listing-memo.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tbuild-listings-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'a'), 'a');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('ListingMemo', () => {
  it('gives a kept listing once', () => {
    const memo = new ListingMemo();
    const listing = nativeFs.scanDirectory(dir);
    memo.keep(dir, listing);
    expect(memo.take(join(dir, 'sub'))).toBeUndefined();
    expect(memo.take(dir)).toBe(listing);
    expect(memo.take(dir)).toBeUndefined();
  });

  it('keeps the latest listing of a path', () => {
    const memo = new ListingMemo();
    memo.keep(dir, nativeFs.scanDirectory(dir));
    const latest = nativeFs.scanDirectory(dir);
    memo.keep(dir, latest);
    expect(memo.take(dir)).toBe(latest);
  });
});
