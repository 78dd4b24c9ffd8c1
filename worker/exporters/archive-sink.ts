import { createWriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';

/** Where an image archive's members go: a tar stream or a directory. */
export interface ArchiveSink {
  file(name: string, bytes: Buffer): Promise<void>;
  fileFromStream(name: string, size: number, source: Readable): Promise<void>;
}

/** Writes members as files under a directory, each via a temp file and rename. */
export class DirectorySink implements ArchiveSink {
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  async file(name: string, bytes: Buffer): Promise<void> {
    const target = join(this.#root, name);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(`${target}.tmp`, bytes);
    await rename(`${target}.tmp`, target);
  }

  async fileFromStream(name: string, _size: number, source: Readable): Promise<void> {
    const target = join(this.#root, name);
    await mkdir(dirname(target), { recursive: true });
    await pipeline(source, createWriteStream(`${target}.tmp`));
    await rename(`${target}.tmp`, target);
  }
}
