import { constants, crc32, deflateRawSync } from 'node:zlib';

/** The window deflate can refer back to; each block is primed with this much of the previous one. */
export const DEFLATE_WINDOW = 32 * 1024;

export interface DeflateBlockInput {
  readonly data: Uint8Array;
  /** The last bytes before this block, so the block compresses as well as a single stream would. */
  readonly dictionary?: Uint8Array;
  readonly level: number;
  /** The last block ends the deflate stream; others end on a byte boundary (sync flush). */
  readonly last: boolean;
}

export interface DeflatedBlock {
  readonly deflated: Uint8Array;
  /** CRC-32 of the block's input, for the gzip trailer (joined in order by crc32Combine). */
  readonly crc: number;
}

/**
 * Compresses one block of a gzip stream as raw deflate, and checksums it.
 * Blocks are independent tasks, so a layer compresses on every core (pgzip's
 * approach); the output only depends on the data, level and block size, so it
 * is deterministic.
 */
export function deflateBlock(input: DeflateBlockInput): DeflatedBlock {
  const deflated = deflateRawSync(input.data, {
    level: input.level,
    ...(input.dictionary === undefined ? {} : { dictionary: input.dictionary }),
    finishFlush: input.last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
  });
  return { deflated, crc: crc32(input.data) };
}
