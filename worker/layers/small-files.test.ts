import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultLayerFs } from './layer-fs.js';
import { BatchBuffers, SizeChanged, SmallFileReader, type SmallFile } from './small-files.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tbuild-small-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(count: number, size: (index: number) => number): SmallFile[] {
  return Array.from({ length: count }, (_, index) => {
    const name = `f${String(index).padStart(4, '0')}`;
    writeFileSync(join(dir, name), Buffer.alloc(size(index), `${String(index)}:`));
    return { name, size: size(index) };
  });
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error;
  }
}

/** Reads every file through `reader`, in order, checking each body against what write() wrote; closes it. */
async function expectEveryBody(reader: SmallFileReader, files: SmallFile[]): Promise<void> {
  try {
    for (const [index, file] of files.entries()) {
      const body = await reader.body(index);
      expect(body.equals(Buffer.alloc(file.size, `${String(index)}:`))).toBe(true);
    }
  } finally {
    await reader.close();
  }
}

describe('SmallFileReader', () => {
  it('reads every file in order across many batches, empty files included', async () => {
    const files = write(300, (index) => (index % 7 === 0 ? 0 : 100 + index * 13));
    await expectEveryBody(new SmallFileReader(defaultLayerFs, dir, files), files);
  });

  it('skips files never asked for, and reports one that changed size since its lstat', async () => {
    const files = write(100, () => 64);
    writeFileSync(join(dir, files[70]?.name ?? ''), 'longer than sixty-four bytes, '.repeat(4));
    writeFileSync(join(dir, files[90]?.name ?? ''), 'short');
    const reader = new SmallFileReader(defaultLayerFs, dir, files);
    try {
      expect((await reader.body(3)).length).toBe(64);
      expect((await reader.body(69)).length).toBe(64);
      const grew = await failureOf(reader.body(70));
      expect(grew).toBeInstanceOf(SizeChanged);
      expect(grew).toMatchObject({ file: files[70]?.name, grew: true });
      expect(await failureOf(reader.body(90))).toMatchObject({ grew: false });
    } finally {
      await reader.close();
    }
  });

  it('never follows a symlink put where a file was', async () => {
    writeFileSync(join(dir, 'target'), 'secret');
    symlinkSync(join(dir, 'target'), join(dir, 'link'));
    const reader = new SmallFileReader(defaultLayerFs, dir, [{ name: 'link', size: 6 }]);
    try {
      expect(await failureOf(reader.body(0))).toMatchObject({ code: 'ELOOP' });
    } finally {
      await reader.close();
    }
  });
});

describe('BatchBuffers', () => {
  it('gives back a spare buffer that is big enough, and makes a new one otherwise', () => {
    const buffers = new BatchBuffers();
    const first = buffers.take(1000);
    expect(first.length).toBeGreaterThanOrEqual(1000);
    buffers.give(first);
    // Compared by identity as booleans: printing 2 MiB buffers takes seconds.
    expect(buffers.take(500) === first).toBe(true);
    expect(buffers.take(500) === first).toBe(false);
  });

  it('serves readers of one directory after another, each body right', async () => {
    const buffers = new BatchBuffers();
    const files = write(200, (index) => 50 + index * 7);
    for (let round = 0; round < 3; round++) {
      await expectEveryBody(new SmallFileReader(defaultLayerFs, dir, files, buffers), files);
    }
  });
});
