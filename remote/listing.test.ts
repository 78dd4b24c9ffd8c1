import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import {
  decodeListing,
  encodeListing,
  listContext,
  sameEntry,
  S_IFMT,
  S_IFREG,
} from './listing.js';

let dir = '';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-listing-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(entries: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(entries)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

describe('listContext', () => {
  it('lists every entry with directories before their contents, .dockerignore applied', async () => {
    await files({
      'a.txt': 'a',
      'src/main.c': 'int main;',
      'node_modules/x/index.js': 'x',
      'logs/keep.log': 'kept',
      'logs/drop.log': 'dropped',
    });
    await symlink('a.txt', join(dir, 'link'));
    const listing = await listContext(dir, ['node_modules', 'logs', '!logs/keep.log']);
    expect(listing.map((entry) => entry.path)).toEqual([
      'a.txt',
      'link',
      'logs/keep.log',
      'src',
      'src/main.c',
    ]);
    const link = listing.find((entry) => entry.path === 'link');
    expect(link?.link).toBe('a.txt');
    const file = listing.find((entry) => entry.path === 'src/main.c');
    expect((file?.mode ?? 0) & S_IFMT).toBe(S_IFREG);
    expect(file?.size).toBe(9);
  });

  it('round-trips through the wire form, and a changed file no longer matches', async () => {
    await files({ 'a.txt': 'one', 'b/c.txt': 'two' });
    const before = await listContext(dir, []);
    expect(decodeListing(encodeListing(before))).toEqual(before);
    await writeFile(join(dir, 'a.txt'), 'changed');
    const after = await listContext(dir, []);
    const changed = after.filter(
      (entry) =>
        !sameEntry(
          before.find((old) => old.path === entry.path),
          entry,
        ),
    );
    expect(changed.map((entry) => entry.path)).toEqual(['a.txt']);
  });
});

describe('decodeListing', () => {
  it.each([['../etc/passwd'], ['/etc/passwd'], ['a/./b'], ['a//b']])(
    'refuses the path %s',
    (path) => {
      const line = [path, '100644', '1', '0', ''].join('\0');
      expect(() => decodeListing(gzipSync(line))).toThrow(/malformed/);
    },
  );

  it('refuses data that is not gzip', () => {
    expect(() => decodeListing(Buffer.from('plain'))).toThrow(/not gzip/);
  });
});
