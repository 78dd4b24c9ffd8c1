/**
 * Gathers a byte stream's small pieces (tar headers, small file bodies,
 * padding) into chunks of about `size` bytes, with room to read file bodies
 * straight into place: one buffer per chunk instead of one per piece, so a
 * 20k-file layer makes ~120 allocations and no extra copies of its bodies.
 * Chunks handed out are never written again.
 */
export class ChunkWriter {
  readonly #size: number;
  readonly #done: Buffer[] = [];
  #chunk: Buffer;
  #used = 0;

  constructor(size: number) {
    this.#size = size;
    this.#chunk = Buffer.allocUnsafe(size);
  }

  write(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#chunk.set(bytes, this.#used);
    this.#used += bytes.length;
  }

  zeros(length: number): void {
    this.#ensure(length);
    this.#chunk.fill(0, this.#used, this.#used + length);
    this.#used += length;
  }

  /** A region of `length` bytes to fill in place; `commit(n)` then keeps its first n bytes. */
  reserve(length: number): Buffer {
    this.#ensure(length);
    return this.#chunk.subarray(this.#used, this.#used + length);
  }

  commit(length: number): void {
    this.#used += length;
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
    if (length > this.#chunk.length) this.#chunk = Buffer.allocUnsafe(length);
  }

  #seal(): void {
    if (this.#used === 0) return;
    this.#done.push(this.#chunk.subarray(0, this.#used));
    this.#chunk = Buffer.allocUnsafe(this.#size);
    this.#used = 0;
  }
}
