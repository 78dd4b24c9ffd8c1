/**
 * ADD's auto-extraction of a local archive (CopyAction.unpack). Returns false, writing
 * nothing, when the file is not a tar (plain, gzip, bzip2, xz or zstd), so the caller
 * copies it as a file, as Docker does; a file that merely starts like one but breaks
 * later is an error, also as in Docker.
 */
import { lstat, mkdir } from 'node:fs/promises';
import { throwIfAborted } from '../../core/index.js';
import { decompressed, detectCompression, isTarHeader, readHead } from './archive-detect.js';
import { extractTar, type ExtractOptions } from './archive-extract.js';

export type UnpackOptions = ExtractOptions;

const MAGIC_LENGTH = 6;
const BLOCK = 512;

export async function unpackArchive(
  archivePath: string,
  destDir: string,
  options: UnpackOptions,
): Promise<boolean> {
  throwIfAborted(options.signal);
  const stats = await lstat(archivePath);
  if (!stats.isFile()) return false;
  const compression = detectCompression(await readHead(archivePath, MAGIC_LENGTH));
  if (!(await startsWithTarHeader(archivePath, compression, options.signal))) return false;
  await mkdir(destDir, { recursive: true, mode: 0o755 });
  await extractTar(decompressed(archivePath, compression, options.signal), destDir, options);
  return true;
}

/** Docker's IsArchivePath: the first tar header of the decompressed stream reads cleanly. */
async function startsWithTarHeader(
  path: string,
  compression: ReturnType<typeof detectCompression>,
  signal: AbortSignal,
): Promise<boolean> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of decompressed(path, compression, signal)) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= BLOCK) break;
    }
  } catch {
    throwIfAborted(signal);
    return false; // a broken stream is not an archive; Docker copies such files as they are
  }
  return isTarHeader(Buffer.concat(chunks).subarray(0, BLOCK));
}
