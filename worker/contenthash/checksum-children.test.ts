import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InlinePool } from '../threads/index.js';
import { checksumChildren, checksumPath, type ChecksumOptions } from './checksum.js';
import { StatCache } from './stat-cache.js';

let root: string;
let options: ChecksumOptions;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-children-'));
  options = {
    root,
    statCache: StatCache.inMemory(),
    pool: new InlinePool(),
    includeOwnership: false,
  };
  await mkdir(join(root, 'src/lib'), { recursive: true });
  await writeFile(join(root, 'src/main.c'), 'int main() { return 0; }\n');
  await writeFile(join(root, 'src/lib/util.c'), 'void util(void) {}\n');
  await writeFile(join(root, 'src/skip.o'), 'object\n');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** What each child's own checksum is, walked on its own. */
async function eachOnItsOwn(names: readonly string[]): Promise<Record<string, string>> {
  const fresh = { ...options, statCache: StatCache.inMemory() };
  const digests: Record<string, string> = {};
  for (const name of names) digests[name] = await checksumPath(`src/${name}`, fresh);
  return digests;
}

describe('checksumChildren', () => {
  it("gives each child's checksum, the same on a first walk and on one that reuses the directory's record", async () => {
    const expected = await eachOnItsOwn(['lib', 'main.c', 'skip.o']);
    const first = await checksumChildren('src', options);
    expect(first).toEqual([
      { name: 'lib', digest: expected['lib'], dir: true },
      { name: 'main.c', digest: expected['main.c'], dir: false },
      { name: 'skip.o', digest: expected['skip.o'], dir: false },
    ]);
    // The directory's listing is unchanged now: its files are not visited, yet still listed.
    await checksumPath('src', options);
    expect(await checksumChildren('src', options)).toEqual(first);
  });

  it('leaves out what the excludes leave out, and is undefined for a file', async () => {
    const excluding = {
      ...options,
      excludes: (path: string) => path.endsWith('.o'),
      excludesKey: '*.o',
    };
    expect((await checksumChildren('src', excluding))?.map((child) => child.name)).toEqual([
      'lib',
      'main.c',
    ]);
    expect(await checksumChildren('src/main.c', options)).toBeUndefined();
  });

  it('follows a change below the directory', async () => {
    const before = await checksumChildren('src', options);
    await writeFile(join(root, 'src/lib/util.c'), 'void util(void) { return; }\n');
    const after = await checksumChildren('src', options);
    expect(after?.find((child) => child.name === 'lib')?.digest).not.toBe(
      before?.find((child) => child.name === 'lib')?.digest,
    );
    expect(after?.find((child) => child.name === 'main.c')).toEqual(
      before?.find((child) => child.name === 'main.c'),
    );
  });
});
