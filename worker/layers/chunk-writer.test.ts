import { describe, expect, it } from 'vitest';
import { ChunkWriter } from './chunk-writer.js';

describe('ChunkWriter', () => {
  it('keeps every byte in order across chunks, with in-place reads and zeros', () => {
    const writer = new ChunkWriter(8);
    writer.write(Buffer.from('abc'));
    const region = writer.reserve(4);
    region.write('defX');
    writer.commit(3);
    writer.zeros(2);
    writer.write(Buffer.from('0123456789'));
    const full = writer.takeFull();
    expect(full.every((chunk) => chunk.length <= 10)).toBe(true);
    const all = Buffer.concat([...full, ...writer.takeAll()]);
    expect(all).toEqual(
      Buffer.concat([Buffer.from('abcdef'), Buffer.alloc(2), Buffer.from('0123456789')]),
    );
    expect(writer.takeAll()).toEqual([]);
  });

  it('never writes into a chunk it handed out', () => {
    const writer = new ChunkWriter(4);
    writer.write(Buffer.from('aaaa'));
    writer.write(Buffer.from('b'));
    const [first] = writer.takeFull();
    writer.write(Buffer.from('cccccc'));
    writer.takeAll();
    expect(first?.toString()).toBe('aaaa');
  });

  it('claims zeroed regions that are kept as filled, even over reused bytes', () => {
    const writer = new ChunkWriter(6);
    writer.reserve(6).fill(0x78); // garbage left in the chunk, never committed
    const block = writer.claim(4);
    expect([...block]).toEqual([0, 0, 0, 0]);
    block.write('ab', 1);
    writer.write(Buffer.from('zzzz'));
    expect(Buffer.concat(writer.takeAll())).toEqual(Buffer.from('\u0000ab\u0000zzzz', 'latin1'));
  });

  it('cuts writes and zeros at chunk ends, so every chunk but the last is full and owns its buffer', () => {
    const writer = new ChunkWriter(8);
    const expected: Buffer[] = [];
    for (let index = 0; index < 20; index++) {
      const piece = Buffer.from(`piece${String(index)}-`);
      writer.write(piece);
      writer.zeros(index % 5);
      expected.push(piece, Buffer.alloc(index % 5));
    }
    const chunks = [...writer.takeFull(), ...writer.takeAll()];
    expect(Buffer.concat(chunks)).toEqual(Buffer.concat(expected));
    for (const chunk of chunks.slice(0, -1)) {
      expect([chunk.length, chunk.byteOffset, chunk.buffer.byteLength]).toEqual([8, 0, 8]);
    }
  });
});
