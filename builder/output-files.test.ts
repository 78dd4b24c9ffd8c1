import { link, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { faultInjector, isTbuildError, type WriteFaults } from '../core/index.js';
import { writeDirectoryOutput, writeFileOutput } from './output-files.js';

let dir: string;
const signal = new AbortController().signal;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-output-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function failing(nth: number): WriteFaults {
  return faultInjector({ errno: 'ENOSPC', nth });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('writeFileOutput', () => {
  it('puts the whole file at dest', async () => {
    const dest = join(dir, 'out.tar');
    await writeFileOutput(dest, { signal }, async (out) => {
      await new Promise<void>((resolve, reject) => {
        out.end('whole', (error?: Error | null) => {
          if (error) reject(error);
          else resolve();
        });
      });
    });
    expect(await readFile(dest, 'utf8')).toBe('whole');
    expect(await readdir(dir)).toEqual(['out.tar']);
  });

  for (const nth of [1, 2]) {
    it(`leaves dest as it was when write ${String(nth)} fails (TB_DISK_FULL naming dest)`, async () => {
      const dest = join(dir, 'out.tar');
      await writeFile(dest, 'old');
      const error = await rejection(
        writeFileOutput(dest, { faults: failing(nth), signal }, async (out) => {
          await new Promise<void>((resolve) => out.end('new', resolve));
        }),
      );
      expect(isTbuildError(error, 'TB_DISK_FULL')).toBe(true);
      expect((error as Error).message).toContain(dest);
      expect(await readFile(dest, 'utf8')).toBe('old');
      expect(await readdir(dir)).toEqual(['out.tar']);
    });
  }

  it("turns a producer's failure into TB_OUTPUT_WRITE naming dest and removes the temp file", async () => {
    const dest = join(dir, 'out.tar');
    const error = await rejection(
      writeFileOutput(dest, { signal }, () => Promise.reject(new Error('boom'))),
    );
    expect(isTbuildError(error, 'TB_OUTPUT_WRITE')).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('writeDirectoryOutput', () => {
  it('adds new files over the old ones and keeps the others, never writing into an old file', async () => {
    const dest = join(dir, 'out');
    await mkdir(dest);
    await writeFile(join(dest, 'kept'), 'kept');
    await writeFile(join(dest, 'replaced'), 'old');
    const outside = join(dir, 'outside');
    // A hard link from outside shows whether the old inode was written through.
    await writeFile(outside, 'old');
    await rm(join(dest, 'replaced'));
    await link(outside, join(dest, 'replaced'));
    await writeDirectoryOutput(dest, { signal }, async (into) => {
      await writeFile(join(into, 'replaced.tmp'), 'new');
      await rename(join(into, 'replaced.tmp'), join(into, 'replaced'));
      await writeFile(join(into, 'added'), 'added');
    });
    expect((await readdir(dest)).sort()).toEqual(['added', 'kept', 'replaced']);
    expect(await readFile(join(dest, 'replaced'), 'utf8')).toBe('new');
    expect(await readFile(outside, 'utf8')).toBe('old');
    expect((await readdir(dir)).sort()).toEqual(['out', 'outside']);
  });

  for (const nth of [1, 2]) {
    it(`leaves dest as it was when write ${String(nth)} fails`, async () => {
      const dest = join(dir, 'out');
      await mkdir(dest);
      await writeFile(join(dest, 'kept'), 'kept');
      const error = await rejection(
        writeDirectoryOutput(dest, { faults: failing(nth), signal }, async (into) => {
          await writeFile(join(into, 'added'), 'added');
        }),
      );
      expect(isTbuildError(error, 'TB_DISK_FULL')).toBe(true);
      expect(await readdir(dest)).toEqual(['kept']);
      expect(await readdir(dir)).toEqual(['out']);
    });
  }

  it('makes nothing when dest did not exist and the fill fails', async () => {
    const dest = join(dir, 'new', 'out');
    const error = await rejection(
      writeDirectoryOutput(dest, { signal }, () => Promise.reject(new Error('boom'))),
    );
    expect(isTbuildError(error, 'TB_OUTPUT_WRITE')).toBe(true);
    expect(await readdir(join(dir, 'new'))).toEqual([]);
  });
});
