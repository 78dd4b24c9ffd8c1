import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchWriter, type CopiedFile } from './batch-writer.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tbuild-batch-'));
  for (const sub of ['src', 'earlier', 'out']) mkdirSync(join(dir, sub));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(overrides: Partial<CopiedFile> = {}): CopiedFile {
  return {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    mode: 0o640,
    atimeMs: 1_600_000_000_250,
    mtimeMs: 1_500_000_000_123,
    ...overrides,
  };
}

describe('BatchWriter', () => {
  it('copies files with the given mode and times, in batches across directories', async () => {
    const writer = new BatchWriter();
    for (let i = 0; i < 150; i++) {
      writeFileSync(join(dir, 'src', `f${String(i)}`), `content ${String(i)}\n`.repeat(i));
      await writer.copy(join(dir, 'src'), join(dir, 'out'), `f${String(i)}`, file());
    }
    await writer.flush();
    expect(readdirSync(join(dir, 'out'))).toHaveLength(150);
    for (const i of [0, 1, 63, 64, 149]) {
      const copied = join(dir, 'out', `f${String(i)}`);
      // Before reading it: a read may move the atime.
      const stats = lstatSync(copied, { bigint: true });
      expect(Number(stats.mode & 0o7777n)).toBe(0o640);
      expect(stats.mtimeNs).toBe(1_500_000_000_123_000_000n);
      expect(stats.atimeNs).toBe(1_600_000_000_250_000_000n);
      expect(readFileSync(copied, 'utf8')).toBe(`content ${String(i)}\n`.repeat(i));
    }
  });

  it('keeps times before 1970', async () => {
    writeFileSync(join(dir, 'src/old'), 'x');
    const writer = new BatchWriter();
    await writer.copy(join(dir, 'src'), join(dir, 'out'), 'old', file({ mtimeMs: -1500 }));
    await writer.flush();
    expect(lstatSync(join(dir, 'out/old'), { bigint: true }).mtimeNs).toBe(-1_500_000_000n);
  });

  it('links earlier files, and copies the source where a link cannot be made', async () => {
    writeFileSync(join(dir, 'src/kept'), 'same');
    writeFileSync(join(dir, 'earlier/kept'), 'same');
    writeFileSync(join(dir, 'src/gone'), 'from source');
    utimesSync(join(dir, 'src/gone'), 1000, 1000);
    const copiedInstead: string[] = [];
    const writer = new BatchWriter();
    for (const name of ['kept', 'gone']) {
      await writer.link(join(dir, 'earlier'), join(dir, 'out'), name, {
        sourceDir: join(dir, 'src'),
        file: file(),
        onCopied: () => copiedInstead.push(name),
      });
    }
    await writer.flush();
    expect(lstatSync(join(dir, 'out/kept')).ino).toBe(lstatSync(join(dir, 'earlier/kept')).ino);
    expect(copiedInstead).toEqual(['gone']);
    expect(readFileSync(join(dir, 'out/gone'), 'utf8')).toBe('from source');
    expect(lstatSync(join(dir, 'out/gone')).mode & 0o7777).toBe(0o640);
  });

  it('fails naming the file, for a source that is not a regular file or a target in the way', async () => {
    execFileSync('mkfifo', [join(dir, 'src/pipe')]);
    const fifo = new BatchWriter();
    await fifo.copy(join(dir, 'src'), join(dir, 'out'), 'pipe', file());
    await expect(fifo.flush()).rejects.toMatchObject({
      code: 'EINVAL',
      path: join(dir, 'src/pipe'),
    });

    writeFileSync(join(dir, 'src/a'), 'new');
    writeFileSync(join(dir, 'out/a'), 'in the way');
    const taken = new BatchWriter();
    await taken.copy(join(dir, 'src'), join(dir, 'out'), 'a', file());
    await expect(taken.flush()).rejects.toMatchObject({ code: 'EEXIST', path: join(dir, 'out/a') });
    expect(readFileSync(join(dir, 'out/a'), 'utf8')).toBe('in the way');
  });

  it('abandon drops what is queued and waits for the calls in flight', async () => {
    const calls: string[][] = [];
    let land = (): void => undefined;
    const fs = {
      copyFiles: (_from: string, _to: string, names: string[]) => {
        calls.push(names);
        return new Promise<void>((resolve) => (land = resolve));
      },
      linkFiles: () => Promise.resolve([]),
    };
    const writer = new BatchWriter({ fs });
    for (let i = 0; i < 64; i++) await writer.copy('/src', '/out', `f${String(i)}`, file());
    await writer.copy('/src', '/other', 'queued', file());
    let abandoned = false;
    const abandoning = writer.abandon().then(() => (abandoned = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(abandoned).toBe(false);
    land();
    await abandoning;
    expect(calls.map((names) => names.length)).toEqual([64]);
  });

  it('stops queueing once aborted', async () => {
    writeFileSync(join(dir, 'src/a'), 'a');
    const controller = new AbortController();
    const writer = new BatchWriter({ signal: controller.signal });
    await writer.copy(join(dir, 'src'), join(dir, 'out'), 'a', file());
    controller.abort();
    await expect(writer.flush()).rejects.toMatchObject({ code: 'TB_CANCELED' });
    expect(readdirSync(join(dir, 'out'))).toEqual([]);
  });
});
