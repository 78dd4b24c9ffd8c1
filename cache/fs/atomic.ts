import { createHash } from 'node:crypto';
import { open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError, type WriteFaults } from '../../core/index.js';
import { tempNameFor } from './process-owner.js';

/** Node's fs errors carry a `code`; anything else is not one of them. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return errnoCode(error) === 'ENOENT';
}

/** A full filesystem: ENOSPC, or EDQUOT when a quota is what ran out. */
export function isDiskFull(error: unknown): boolean {
  const code = errnoCode(error);
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * A failed read or write under the tbuild root as the user sees it: which
 * path, what the system said, and for a full disk what to do about it.
 */
export function storeIoError(action: string, path: string, cause: unknown): TbuildError {
  const why = cause instanceof Error ? cause.message : String(cause);
  const details = { path, errno: errnoCode(cause) };
  if (isDiskFull(cause)) {
    return new TbuildError('TB_DISK_FULL', `cannot ${action} ${path}: the disk is full (${why})`, {
      hint: "free space on the tbuild root's filesystem, or remove build cache with `tbuild prune` (`tbuild du` shows it)",
      details,
      cause,
    });
  }
  return new TbuildError('TB_STORE_IO', `cannot ${action} ${path}: ${why}`, {
    ...(errnoCode(cause) === 'EIO'
      ? { hint: 'the disk holding the tbuild root reported an I/O error: check it (dmesg)' }
      : {}),
    details,
    cause,
  });
}

export interface AtomicWriteOptions {
  /** fsync the file before the rename, so a power loss leaves the old file or the new one. */
  readonly durable: boolean;
  /** The test seam that fails chosen writes (see core/faults.ts). */
  readonly faults?: WriteFaults | undefined;
}

/**
 * Writes `data` to `path` so readers see the old file or the whole new one,
 * never a part: a temp file in `tmpDir` (same filesystem), then rename.
 * A kill -9 between the two leaves only a temp file, which cleanup removes.
 */
export async function writeFileAtomic(
  tmpDir: string,
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions,
): Promise<void> {
  const tmp = join(tmpDir, tempNameFor());
  try {
    options.faults?.write(tmp);
    const handle = await open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(data);
      if (options.durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw storeIoError('write', path, error);
  }
}

/**
 * A small JSON file that proves its own integrity, as cacache's index lines
 * do: `<sha256 hex of body>\t<body>\n`. Atomic rename already rules out torn
 * files after a kill -9; the checksum catches what a power loss without fsync
 * or a hand edit can leave (zeroed or truncated files), and the reader treats
 * such a file as absent instead of trusting it.
 */
export function encodeChecked(value: unknown): string {
  const body = JSON.stringify(value);
  return `${createHash('sha256').update(body).digest('hex')}\t${body}\n`;
}

export type CheckedRead =
  | { readonly kind: 'ok'; readonly value: unknown }
  | { readonly kind: 'missing' }
  | { readonly kind: 'corrupt'; readonly reason: string };

export function decodeChecked(text: string): CheckedRead {
  const tab = text.indexOf('\t');
  if (tab !== 64 || !text.endsWith('\n')) return { kind: 'corrupt', reason: 'malformed' };
  const body = text.slice(tab + 1, -1);
  const sum = createHash('sha256').update(body).digest('hex');
  if (sum !== text.slice(0, tab)) return { kind: 'corrupt', reason: 'checksum mismatch' };
  try {
    return { kind: 'ok', value: JSON.parse(body) as unknown };
  } catch {
    return { kind: 'corrupt', reason: 'invalid JSON' };
  }
}

export async function readChecked(path: string): Promise<CheckedRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return { kind: 'missing' };
    throw storeIoError('read', path, error);
  }
  return decodeChecked(text);
}

export async function removeIfExists(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw storeIoError('remove', path, error);
  }
}

/** The names in a directory; none when the directory does not exist (yet). */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw storeIoError('list', dir, error);
  }
}
