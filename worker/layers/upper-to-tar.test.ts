import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { readTar } from './tar-reader.js';
import { upperDirToTar } from './upper-to-tar.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tbuild-upper-tar-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function names(upper: string): Promise<string[]> {
  const signal = new AbortController().signal;
  const listed: string[] = [];
  for await (const { entry } of readTar(upperDirToTar(upper, { signal }), signal)) {
    listed.push(entry.name);
  }
  return listed;
}

describe('upperDirToTar', () => {
  it('orders entries by their UTF-8 bytes, not by UTF-16 code units', async () => {
    // U+FF21 is EF BC A1 in UTF-8 and U+1F600 is F0 9F 98 80: by bytes U+FF21 comes
    // first, while UTF-16 (0xFF21 against the surrogate 0xD83D) puts U+1F600 first.
    for (const name of ['b', '\u{1F600}', '\uFF21', 'a']) writeFileSync(join(dir, name), name);
    mkdirSync(join(dir, 'a.d'));
    writeFileSync(join(dir, 'a.d', 'x'), '');
    expect(await names(dir)).toEqual(['a', 'a.d', 'a.d/x', 'b', '\uFF21', '\u{1F600}']);
  });

  it('refuses a name that is not valid UTF-8, naming its directory', async () => {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(Buffer.concat([Buffer.from(join(dir, 'sub/bad-')), Buffer.from([0xfe])]), '');
    const error = await names(dir).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isTbuildError(error, 'TB_LAYER_SOURCE')).toBe(true);
    expect((error as Error).message).toMatch(/sub\/bad-\uFFFD is not a valid UTF-8 name/);
    expect((error as { details?: { path?: string } }).details?.path).toBe(join(dir, 'sub'));
  });
});
