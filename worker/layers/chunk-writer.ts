/**
 * Gathers a byte stream's small pieces (tar headers, small file bodies,
 * padding) into chunks of exactly `size` bytes (the last may be shorter):
 * one buffer per chunk instead of one per piece, so a 20k-file layer makes
 * ~130 allocations. A write is split across chunks where it straddles one
 * end, so full chunks can go on to compression as the blocks it cuts,
 * without another copy (gzipParallel). Only a region claimed in place
 * (claim, reserve) that does not fit ends a chunk early. Chunks handed out
 * are never written again, and each owns its ArrayBuffer.
 */
export class ChunkWriter {
  readonly #size: number;
  readonly #done: Buffer[] = [];
  #chunk: Buffer;
  #used = 0;

  constructor(size: number) {
    this.#size = size;
    this.#chunk = Buffer.allocUnsafeSlow(size);
  }

  write(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      const take = Math.min(bytes.length - offset, this.#chunk.length - this.#used);
      this.#chunk.set(
        take === bytes.length ? bytes : bytes.subarray(offset, offset + take),
        this.#used,
      );
      this.#advance(take);
      offset += take;
    }
  }

  zeros(length: number): void {
    let left = length;
    while (left > 0) {
      const take = Math.min(left, this.#chunk.length - this.#used);
      this.#chunk.fill(0, this.#used, this.#used + take);
      this.#advance(take);
      left -= take;
    }
  }

  /** A region of `length` bytes to fill in place; `commit(n)` then keeps its first n bytes. */
  reserve(length: number): Buffer {
    this.#ensure(length);
    return this.#chunk.subarray(this.#used, this.#used + length);
  }

  /** A region of at most `length` bytes (fewer when the chunk ends first) to fill in place; then commit(n). */
  reserveUpTo(length: number): Buffer {
    return this.#chunk.subarray(
      this.#used,
      this.#used + Math.min(length, this.#chunk.length - this.#used),
    );
  }

  commit(length: number): void {
    this.#advance(length);
  }

  /** A zero-filled region of `length` bytes, kept: fill it in place before the next write. */
  claim(length: number): Buffer {
    const region = this.reserve(length);
    region.fill(0);
    this.commit(length);
    return region;
  }

  /** Chunks completed so far (taken out of the writer). */
  takeFull(): Buffer[] {
    return this.#done.splice(0);
  }

  /** Every byte written so far, as chunks (taken out of the writer). */
  takeAll(): Buffer[] {
    this.#seal();
    return this.takeFull();
  }

  #ensure(length: number): void {
    if (this.#used + length <= this.#chunk.length) return;
    this.#seal();
    if (length > this.#chunk.length) this.#chunk = Buffer.allocUnsafeSlow(length);
  }

  /** Counts `length` more bytes written; a chunk filled to its end is handed on at once. */
  #advance(length: number): void {
    this.#used += length;
    if (this.#used === this.#chunk.length) this.#seal();
  }

  #seal(): void {
    if (this.#used === 0) return;
    this.#done.push(
      this.#used === this.#chunk.length ? this.#chunk : this.#chunk.subarray(0, this.#used),
    );
    // Unpooled: a chunk must own its ArrayBuffer to be moved to another thread.
    this.#chunk = Buffer.allocUnsafeSlow(this.#size);
    this.#used = 0;
  }
}
