import { constants, deflateRawSync } from 'node:zlib';
import { throwIfAborted } from '../../core/index.js';
import type { ThreadPool } from './pool.js';
import { crc32Combine } from './crc32-combine.js';
import { DEFLATE_WINDOW, type DeflatedBlock } from './tasks/compress.js';

export interface ParallelGzipOptions {
  readonly pool: ThreadPool;
  /** zlib level 0-9; 6 is gzip's and BuildKit's default. */
  readonly level?: number;
  /** Uncompressed bytes per task. Part of the output's identity: keep it fixed for reproducible digests. */
  readonly blockSize?: number;
  readonly signal?: AbortSignal;
  /**
   * Given every block of the input, in order, before the block moves to a thread
   * (e.g. the layer's diffID): the block must be done with when `update` settles.
   */
  readonly digest?: { update(bytes: Uint8Array): Promise<void> };
}

export const DEFAULT_GZIP_BLOCK_SIZE = 1024 * 1024;

/** gzip header: no name, mtime 0, OS "unknown" (255), so the bytes never depend on when or where. */
const GZIP_HEADER = Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

/**
 * gzip compression on every core, deterministic: the input is cut into fixed
 * blocks, each deflated (and checksummed) on a thread with the previous 32 KiB
 * as dictionary and ended with a sync flush, and the raw deflate pieces are
 * concatenated between one gzip header and trailer. Any gzip reader decodes the result; the same
 * input, level and block size always give the same bytes.
 *
 * Input chunks of exactly the block size that own their ArrayBuffer (as
 * ChunkWriter makes them) become blocks as they are, not copied: they move to
 * the threads, so the source must not use them again.
 */
export async function* gzipParallel(
  source: AsyncIterable<Uint8Array>,
  options: ParallelGzipOptions,
): AsyncGenerator<Uint8Array> {
  const level = options.level ?? 6;
  const blockSize = options.blockSize ?? DEFAULT_GZIP_BLOCK_SIZE;
  const inFlightLimit = Math.max(2, options.pool.size * 2);
  const pending: { length: number; result: Promise<DeflatedBlock> }[] = [];
  let crc = 0;
  let size = 0;
  /** A copy of the last DEFLATE_WINDOW bytes of the previous block (blocks move to the threads). */
  let dictionary: Uint8Array | undefined;

  yield GZIP_HEADER;
  const submit = (block: Uint8Array): void => {
    size = (size + block.length) % 2 ** 32;
    const input = {
      data: block,
      level,
      last: false,
      ...(dictionary === undefined ? {} : { dictionary }),
    };
    dictionary = new Uint8Array(block.subarray(Math.max(0, block.length - DEFLATE_WINDOW)));
    // Moved, not copied: a copy per block piled up as garbage in every thread until
    // its next full GC, over 150 MB of RSS for a 120 MB layer.
    const hashed = options.digest?.update(block) ?? Promise.resolve();
    const result = hashed.then(() =>
      options.pool.run('deflateBlock', input, options.signal, [block.buffer as ArrayBuffer]),
    );
    // Handled now, awaited in order by `next`: when the consumer stops early (its blob
    // write failed) the blocks still in flight are aborted, and their rejections must
    // not crash the process as unhandled ones.
    result.catch(() => undefined);
    pending.push({ length: block.length, result });
  };
  /** The oldest block's deflated bytes, its checksum folded into the stream's. */
  const next = async (): Promise<Uint8Array> => {
    const { length, result } = pending.shift() as (typeof pending)[number];
    const block = await result;
    crc = crc32Combine(crc, block.crc, length);
    return block.deflated;
  };

  for await (const block of rechunk(source, blockSize)) {
    throwIfAborted(options.signal);
    submit(block);
    while (pending.length >= inFlightLimit) yield await next();
  }
  while (pending.length > 0) yield await next();

  // An empty final block ends the deflate stream whatever came before.
  yield deflateRawSync(new Uint8Array(0), { level, finishFlush: constants.Z_FINISH });
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size >>> 0, 4);
  yield trailer;
}

/**
 * Regroups a byte stream into blocks of exactly `size` bytes (the last may be
 * shorter). Each block has an ArrayBuffer of its own, so it can be transferred:
 * a chunk that already is such a block, arriving on a block boundary, is
 * passed on as it is.
 */
export async function* rechunk(
  source: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  // Unzeroed: every byte of a block is written before it is yielded.
  let buffer = Buffer.allocUnsafe(size);
  let filled = 0;
  for await (const chunk of source) {
    if (filled === 0 && isWholeBlock(chunk, size)) {
      yield chunk;
      continue;
    }
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(size - filled, chunk.length - offset);
      buffer.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === size) {
        yield buffer;
        buffer = Buffer.allocUnsafe(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

function isWholeBlock(chunk: Uint8Array, size: number): boolean {
  return chunk.length === size && chunk.byteOffset === 0 && chunk.buffer.byteLength === size;
}
