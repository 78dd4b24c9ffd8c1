/**
 * Is a file an archive ADD should extract, and its decompressed bytes. Like Docker's
 * archive.DecompressStream + IsArchivePath (which BuildKit's isArchivePath uses): the
 * compression is told by magic bytes, never by the file name, and the file counts as an
 * archive only when its (decompressed) start is a valid tar header. gzip is undone with
 * zlib in-process; bzip2, xz and zstd by streaming through Debian's `bzip2 -dc`,
 * `xz -dc` and `zstd -dc`, which are faster than any JavaScript decoder.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TbuildError, canceledError } from '../../core/index.js';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

const MAGIC: ReadonlyArray<readonly [Compression, readonly number[]]> = [
  ['gzip', [0x1f, 0x8b, 0x08]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

const TOOLS: Record<'bzip2' | 'xz' | 'zstd', string> = { bzip2: 'bzip2', xz: 'xz', zstd: 'zstd' };

export function detectCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) {
    if (magic.every((byte, index) => head[index] === byte)) return kind;
  }
  return 'none';
}

export async function readHead(path: string, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * The decompressed content of `path`. Stopping early (breaking out of the loop) releases
 * the file and ends the decompressor; a failing decompressor rejects with TB_ARCHIVE_INVALID.
 */
export async function* decompressed(
  path: string,
  compression: Compression,
  signal: AbortSignal,
): AsyncGenerator<Buffer> {
  if (compression === 'none' || compression === 'gzip') {
    const file = createReadStream(path, { signal });
    const stream =
      compression === 'none'
        ? file
        : pipeline(file, createGunzip(), () => {
            // Errors surface through the iteration below.
          });
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (error) {
      if (signal.aborted) throw canceledError(signal);
      throw new TbuildError(
        'TB_ARCHIVE_INVALID',
        `cannot decompress ${compression} archive: ${message(error)}`,
        {
          cause: error,
        },
      );
    } finally {
      file.destroy();
    }
    return;
  }
  yield* fromTool(path, compression, signal);
}

async function* fromTool(
  path: string,
  compression: 'bzip2' | 'xz' | 'zstd',
  signal: AbortSignal,
): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  const child = spawn(TOOLS[compression], ['-dc'], {
    stdio: [handle.fd, 'pipe', 'pipe'],
    signal,
  }) as ChildProcessByStdio<null, Readable, Readable>;
  const stderr: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => {
      resolve({ code: null, error });
    });
    child.once('close', (code) => {
      resolve({ code });
    });
  });
  let finished = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const exit = await exited;
    finished = true;
    if (signal.aborted) throw canceledError(signal);
    if (exit.error !== undefined) {
      throw new TbuildError(
        'TB_ARCHIVE_INVALID',
        `cannot run ${TOOLS[compression]}: ${exit.error.message}`,
        {
          cause: exit.error,
          hint: `install ${compression === 'xz' ? 'xz-utils' : compression} (bash scripts/setup.sh does)`,
        },
      );
    }
    if (exit.code !== 0) {
      const text = Buffer.concat(stderr).toString('utf8').trim();
      throw new TbuildError(
        'TB_ARCHIVE_INVALID',
        `cannot decompress ${compression} archive: ${text || `exit ${String(exit.code)}`}`,
      );
    }
  } catch (error) {
    if (signal.aborted) throw canceledError(signal);
    throw error;
  } finally {
    if (!finished) child.kill('SIGKILL');
    await handle.close();
  }
}

/** A tar header block: not all zeros, and its checksum (unsigned or signed) verifies. */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512 || block.every((byte) => byte === 0)) return false;
  const field = Buffer.from(block.subarray(148, 156))
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  if (!/^[0-7]{1,7}$/.test(field)) return false;
  const stored = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let index = 0; index < 512; index++) {
    const byte = index >= 148 && index < 156 ? 0x20 : (block[index] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
