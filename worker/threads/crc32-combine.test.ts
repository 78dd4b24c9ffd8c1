import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Combine } from './crc32-combine.js';

describe('crc32Combine', () => {
  it.each([
    ['two ordinary strings', 1000, 3000],
    ['an empty second part', 500, 0],
    ['an empty first part', 0, 700],
    ['a one-byte second part', 65_536, 1],
    ['a 1 MiB second part', 10, 1024 * 1024],
  ])('gives the CRC-32 of the concatenation for %s', (_name, lengthA, lengthB) => {
    const a = randomBytes(lengthA);
    const b = randomBytes(lengthB);
    expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
  });

  it('folds many blocks in order to the CRC-32 of the whole', () => {
    const blocks = Array.from({ length: 20 }, (_, i) => randomBytes(1 + i * 997));
    const folded = blocks.reduce((crc, block) => crc32Combine(crc, crc32(block), block.length), 0);
    expect(folded).toBe(crc32(Buffer.concat(blocks)));
  });

  it('depends on the second part’s length (zeros are not free)', () => {
    const a = randomBytes(64);
    const zeros = Buffer.alloc(100);
    expect(crc32Combine(crc32(a), crc32(zeros), 100)).toBe(crc32(Buffer.concat([a, zeros])));
    expect(crc32Combine(crc32(a), crc32(zeros), 100)).not.toBe(
      crc32Combine(crc32(a), crc32(zeros), 99),
    );
  });
});
