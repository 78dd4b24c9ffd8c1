import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipParallel } from './gzip.js';
import { InlinePool } from './pool.js';

async function gzipAll(chunks: Uint8Array[], blockSize: number, level = 6): Promise<Buffer> {
  const source = (): AsyncIterable<Uint8Array> =>
    (async function* () {
      for (const chunk of chunks) {
        await Promise.resolve();
        yield chunk;
      }
    })();
  const parts: Uint8Array[] = [];
  for await (const part of gzipParallel(source(), { pool: new InlinePool(), blockSize, level })) {
    parts.push(part);
  }
  return Buffer.concat(parts);
}

/** Compressible but not trivial: text with a repeating vocabulary and random noise. */
function sampleData(bytes: number): Buffer {
  const words = ['layer', 'snapshot', 'digest', 'overlay', 'tar', 'whiteout', '\n'];
  const noise = randomBytes(bytes);
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i++) {
    const word = words[(noise[i % noise.length] ?? 0) % words.length] ?? '';
    parts.push(word, ' ');
    length += word.length + 1;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

describe('gzipParallel', () => {
  it.each([
    ['empty input', 0, 1024],
    ['less than one block', 1000, 4096],
    ['exactly two blocks', 8192, 4096],
    ['many blocks with a short tail', 300_001, 65_536],
  ])('round-trips %s through a standard gunzip', async (_name, bytes, blockSize) => {
    const data = sampleData(bytes);
    const gz = await gzipAll([data], blockSize);
    expect(gunzipSync(gz).equals(data)).toBe(true);
  });

  it('gives identical bytes however the input was chunked', async () => {
    const data = sampleData(200_000);
    const whole = await gzipAll([data], 32_768);
    const pieces = await gzipAll(
      [data.subarray(0, 7), data.subarray(7, 150_000), data.subarray(150_000)],
      32_768,
    );
    expect(createHash('sha256').update(pieces).digest('hex')).toBe(
      createHash('sha256').update(whole).digest('hex'),
    );
  });

  it('compresses nearly as well as one zlib stream thanks to the carried dictionary', async () => {
    const data = sampleData(500_000);
    const parallel = await gzipAll([data], 65_536);
    const { gzipSync } = await import('node:zlib');
    expect(parallel.length).toBeLessThan(gzipSync(data, { level: 6 }).length * 1.02);
  });

  it('writes a fixed header so output never depends on time or host', async () => {
    const gz = await gzipAll([Buffer.from('x')], 1024);
    expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  });

  it('moves whole-block chunks on as they are and copies the rest, giving the same bytes', async () => {
    const blockSize = 4096;
    const data = sampleData(5 * blockSize + 100);
    const ownBlock = (start: number): Uint8Array => {
      const block = new Uint8Array(blockSize);
      block.set(data.subarray(start, start + blockSize));
      return block;
    };
    // Aligned whole blocks, then a short chunk that puts the next whole block off its boundary.
    const whole = [ownBlock(0), ownBlock(blockSize)];
    const chunks = [
      ...whole,
      data.subarray(2 * blockSize, 2 * blockSize + 10),
      ownBlock(2 * blockSize + 10),
      data.subarray(3 * blockSize + 10),
    ];
    const parts: Uint8Array[] = [];
    const source = (async function* () {
      for (const chunk of chunks) {
        await Promise.resolve();
        yield chunk;
      }
    })();
    for await (const part of gzipParallel(source, { pool: new InlinePool(), blockSize })) {
      parts.push(part);
    }
    expect(gunzipSync(Buffer.concat(parts)).equals(data)).toBe(true);
    expect(Buffer.concat(parts).equals(await gzipAll([data], blockSize))).toBe(true);
    // The aligned whole blocks moved to the (inline) thread: their buffers are detached.
    expect(whole.map((block) => block.buffer.byteLength)).toEqual([0, 0]);
    expect(chunks[3]?.buffer.byteLength).toBe(blockSize);
  });

  it('gives each block to the digest, in order, before it moves', async () => {
    const data = sampleData(50_000);
    const seen: Buffer[] = [];
    const digest = {
      update: async (bytes: Uint8Array): Promise<void> => {
        await Promise.resolve();
        seen.push(Buffer.from(bytes)); // still readable: not moved yet
      },
    };
    const source = (async function* () {
      await Promise.resolve();
      yield data;
    })();
    for await (const part of gzipParallel(source, {
      pool: new InlinePool(),
      blockSize: 8192,
      digest,
    })) {
      expect(part).toBeInstanceOf(Uint8Array);
    }
    expect(Buffer.concat(seen).equals(data)).toBe(true);
    expect(seen.length).toBe(Math.ceil(data.length / 8192));
  });
});
