import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadAddon } from './native/addon.js';
import { Sha256Stream } from './sha256-stream.js';

const sha256 = (parts: Uint8Array[]): string => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};

describe('Sha256Stream', () => {
  it('hashes nothing as the SHA-256 of the empty string', async () => {
    expect(await new Sha256Stream().digest()).toBe(sha256([]));
  });

  it('hashes updates queued without waiting in the order they were given', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    // Views at odd offsets of one buffer, an empty one, and a plain Uint8Array copy.
    const parts = [
      data.subarray(0, 1),
      data.subarray(1, 1),
      data.subarray(1, 1_000_003),
      new Uint8Array(data.subarray(1_000_003, 2_500_000)),
      data.subarray(2_500_000),
    ];
    const stream = new Sha256Stream();
    for (const part of parts) void stream.update(part);
    expect(await stream.digest()).toBe(sha256([data]));
  });

  it('resolves each update once its bytes are hashed', async () => {
    const stream = new Sha256Stream();
    const bytes = Buffer.from('abc');
    await stream.update(bytes);
    bytes.fill(0); // changing them now must not change the digest
    expect(await stream.digest()).toBe(sha256([Buffer.from('abc')]));
  });

  it('refuses updates after the digest was taken', async () => {
    const stream = new Sha256Stream();
    await stream.digest();
    await expect(stream.update(Buffer.from('late'))).rejects.toThrow(/digest was already taken/);
  });

  it('refuses overlapping native updates and bytes that are not a Uint8Array', () => {
    const addon = loadAddon();
    const handle = addon.sha256Create();
    const first = addon.sha256Update(handle, Buffer.alloc(1024));
    expect(() => addon.sha256Update(handle, Buffer.alloc(1))).toThrow(/has not finished/);
    expect(() =>
      addon.sha256Update(addon.sha256Create(), new Uint16Array(4) as unknown as Uint8Array),
    ).toThrow(/must be a Uint8Array/);
    return first;
  });
});
