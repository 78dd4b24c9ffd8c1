import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Pack } from 'tar-stream';
import type { ArchiveSink } from './archive-sink.js';

/**
 * Writes archive members with fixed metadata (mtime 0, root, 0644/0755) so the
 * same members always give the same archive bytes.
 */
export class DeterministicTar implements ArchiveSink {
  readonly stream: Pack;
  readonly #directories = new Set<string>();

  /** tar-stream is loaded here, not at startup: most commands never write an archive. */
  static async create(): Promise<DeterministicTar> {
    const { pack } = await import('tar-stream');
    return new DeterministicTar(pack());
  }

  private constructor(stream: Pack) {
    this.stream = stream;
  }

  async directory(name: string): Promise<void> {
    if (this.#directories.has(name)) return;
    this.#directories.add(name);
    await this.#entry(
      { name: `${name}/`, type: 'directory', mode: 0o755, size: 0 },
      Buffer.alloc(0),
    );
  }

  async file(name: string, bytes: Buffer): Promise<void> {
    await this.#parents(name);
    await this.#entry({ name, type: 'file', mode: 0o644, size: bytes.length }, bytes);
  }

  /** A member whose bytes come from a stream of a known size. */
  async fileFromStream(name: string, size: number, source: Readable): Promise<void> {
    await this.#parents(name);
    const entry = this.stream.entry({ ...fixed, name, type: 'file', mode: 0o644, size });
    await pipeline(source, entry);
  }

  finalize(): void {
    this.stream.finalize();
  }

  async #parents(name: string): Promise<void> {
    const parts = name.split('/').slice(0, -1);
    for (let index = 1; index <= parts.length; index++)
      await this.directory(parts.slice(0, index).join('/'));
  }

  #entry(header: Parameters<Pack['entry']>[0], bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.entry({ ...fixed, ...header }, bytes, (error) => {
        if (error) reject(error);
        else resolve();
      });
    });
  }
}

const fixed = { mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' };
