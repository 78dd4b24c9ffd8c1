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
});
