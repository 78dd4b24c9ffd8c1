import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { neverAborted as signal } from '../../core/index.js';
import { summarizeTree } from './tree-digest.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tbuild-summary-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('summarizeTree', () => {
  it('digests one line per entry, depth first in name order (the format recorded at commit)', async () => {
    mkdirSync(join(dir, 'b/inner'), { recursive: true });
    writeFileSync(join(dir, 'a.txt'), 'hello');
    writeFileSync(join(dir, 'b/inner/deep'), 'x');
    writeFileSync(join(dir, 'c'), '');
    symlinkSync('a.txt', join(dir, 'link'));
    const line = (rel: string, type: string, size: number, extra = ''): string => {
      const stats = lstatSync(join(dir, rel));
      return `${rel}\0${type}\0${(stats.mode & 0o7777).toString(8)}\0${String(stats.uid)}\0${String(stats.gid)}\0${String(size)}\0${extra}\n`;
    };
    const expected = createHash('sha256')
      .update(line('a.txt', 'f', 5))
      .update(line('b', 'd', 0))
      .update(line('b/inner', 'd', 0))
      .update(line('b/inner/deep', 'f', 1))
      .update(line('c', 'f', 0))
      .update(line('link', 'l', 0, 'a.txt'))
      .digest('hex');
    expect(await summarizeTree(dir, { content: false, signal })).toEqual({
      entries: 6,
      bytes: 6,
      digest: expected,
      content: false,
    });
  });
});
