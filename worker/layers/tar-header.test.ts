import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { isTbuildError, neverAborted } from '../../core/index.js';
import type { TarEntry } from './tar-entry.js';
import { ChunkWriter } from './chunk-writer.js';
import { END_OF_ARCHIVE, encodeEntryHeader, writeEntryHeader, zeroPadding } from './tar-header.js';
import { readTar } from './tar-reader.js';

function entry(overrides: Partial<TarEntry> & Pick<TarEntry, 'name' | 'type'>): TarEntry {
  return {
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtimeNs: 1_700_000_000n * 1_000_000_000n,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...overrides,
  };
}

function tarOf(entries: { entry: TarEntry; body?: Buffer }[], nanos = false): Buffer {
  const parts: Buffer[] = [];
  for (const { entry: e, body } of entries) {
    parts.push(encodeEntryHeader(e, nanos ? { timestampPrecision: 'nanosecond' } : {}));
    if (body !== undefined) parts.push(body, zeroPadding(body.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

async function readAll(tar: Buffer): Promise<{ entry: TarEntry; body: Buffer }[]> {
  const out: { entry: TarEntry; body: Buffer }[] = [];
  for await (const { entry: e, body } of readTar(Readable.from(chunked(tar, 700)), neverAborted)) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk);
    out.push({ entry: e, body: Buffer.concat(chunks) });
  }
  return out;
}

/** Odd chunk sizes, so block boundaries never line up with reads. */
function chunked(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) {
    chunks.push(data.subarray(offset, offset + size));
  }
  return chunks;
}

const capability = Buffer.from('0100000280000000000000000000000000000000', 'hex'); // cap_setuid=ep
const longName = `${'deep/'.repeat(40)}${'n'.repeat(120)}`;
const samples: { entry: TarEntry; body?: Buffer }[] = [
  { entry: entry({ name: 'bin', type: 'directory', mode: 0o755 }) },
  {
    entry: entry({
      name: 'bin/ping',
      type: 'file',
      mode: 0o4755,
      size: 5,
      uid: 3_000_000,
      gid: 42,
      xattrs: new Map([
        ['security.capability', capability],
        ['user.note', Buffer.from('é\n=')],
      ]),
    }),
    body: Buffer.from('hello'),
  },
  { entry: entry({ name: 'bin/pong', type: 'hardlink', linkname: 'bin/ping', mode: 0o4755 }) },
  { entry: entry({ name: 'tmp', type: 'directory', mode: 0o1777 }) },
  { entry: entry({ name: 'link', type: 'symlink', linkname: `/${'t'.repeat(150)}`, mode: 0o777 }) },
  { entry: entry({ name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 }) },
  { entry: entry({ name: 'dev/sda', type: 'block', devmajor: 8, devminor: 0, mode: 0o660 }) },
  { entry: entry({ name: 'pipe', type: 'fifo' }) },
  { entry: entry({ name: longName, type: 'file', size: 600 }), body: Buffer.alloc(600, 7) },
  { entry: entry({ name: 'ünïcode', type: 'file', mtimeNs: 1_700_000_000_123_456_789n }) },
];

describe('tar headers', () => {
  it('round-trips every entry type, long names, big ids, binary xattrs and nanoseconds', async () => {
    const read = await readAll(tarOf(samples, true));
    expect(read.map((r) => r.entry)).toEqual(samples.map((s) => s.entry));
    expect(read.map((r) => r.body.toString('hex'))).toEqual(
      samples.map((s) => (s.body ?? Buffer.alloc(0)).toString('hex')),
    );
  });

  it('writes whole seconds by default', async () => {
    const [read] = await readAll(tarOf(samples.slice(9, 10)));
    expect(read?.entry.mtimeNs).toBe(1_700_000_000n * 1_000_000_000n);
  });

  it('gives the same bytes for the same entries', () => {
    expect(tarOf(samples, true).equals(tarOf(samples, true))).toBe(true);
  });

  it('writes the same bytes in place into a chunk writer, PAX headers included', () => {
    const writer = new ChunkWriter(1500); // smaller than some PAX headers: they span chunks
    for (const { entry: e } of samples) {
      writer.reserve(1500).fill(0xff); // stale bytes where the next header goes
      writeEntryHeader(e, writer, { timestampPrecision: 'nanosecond' });
    }
    const expected = Buffer.concat(
      samples.map(({ entry: e }) => encodeEntryHeader(e, { timestampPrecision: 'nanosecond' })),
    );
    expect(Buffer.concat(writer.takeAll()).equals(expected)).toBe(true);
  });

  it('is read the same way by tar-stream (names, types, sizes, modes, ids)', async () => {
    const seen: string[] = [];
    const extractor = extract();
    const done = new Promise<void>((resolve, reject) => {
      extractor.on('entry', (header, stream, next) => {
        seen.push(
          `${header.type} ${header.name} ${String(header.size)} ${header.mode.toString(8)}`,
        );
        stream.on('end', () => {
          next();
        });
        stream.resume();
      });
      extractor.on('finish', resolve);
      extractor.on('error', reject);
    });
    Readable.from([tarOf(samples)]).pipe(extractor);
    await done;
    expect(seen).toEqual([
      'directory bin/ 0 755',
      'file bin/ping 5 4755',
      'link bin/pong 0 4755',
      'directory tmp/ 0 1777',
      'symlink link 0 777',
      'character-device dev/null 0 666',
      'block-device dev/sda 0 660',
      'fifo pipe 0 644',
      `file ${longName} 600 644`,
      'file ünïcode 0 644',
    ]);
  });

  describe('with GNU tar', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tbuild-tar-'));
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('lists our PAX records, long names, links and xattrs', () => {
      const file = join(dir, 'layer.tar');
      writeFileSync(file, tarOf(samples, true));
      const listing = execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-tvvf', file], {
        encoding: 'utf8',
        env: { ...process.env, LC_ALL: 'C.UTF-8' },
      });
      expect(listing).toMatch(/-rwsr-xr-x\* 3000000\/42 +5 .* bin\/ping\n/);
      expect(listing).toMatch(/x: 20 security\.capability\n +x: 4 user\.note\n/);
      expect(listing).toMatch(/bin\/pong link to bin\/ping/);
      expect(listing).toContain(`link -> /${'t'.repeat(150)}`);
      expect(listing).toMatch(/crw-rw-rw- +0\/0 +1,3 .* dev\/null/);
      expect(listing).toContain(longName);
      expect(listing).toContain('ünïcode');
    });
  });

  it('refuses a corrupted header', async () => {
    const tar = tarOf(samples.slice(0, 1));
    tar[10] = 0x41;
    const error = await readAll(tar).catch((caught: unknown) => caught);
    expect(isTbuildError(error, 'TB_LAYER_INVALID')).toBe(true);
  });

  it('refuses a truncated body', async () => {
    for (const end of [1024, 1536 + 100]) {
      const tar = tarOf(samples.slice(8, 9)).subarray(0, end);
      const error = await readAll(tar).catch((caught: unknown) => caught);
      expect(isTbuildError(error, 'TB_LAYER_INVALID')).toBe(true);
    }
  });
});
