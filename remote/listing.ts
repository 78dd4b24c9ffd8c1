import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TbuildError } from '../core/index.js';
import { createIgnoreMatcher, parseDockerignore } from '../frontend/index.js';

/**
 * One entry of a context as the client sees it: the fingerprint the server
 * compares with its kept copy (BuildKit's file sync compares the same stat
 * fields). A regular file whose fingerprint changed is sent again.
 */
export interface ListingEntry {
  /** Context-relative, forward slashes, no leading `./`. */
  readonly path: string;
  /** st_mode: the type bits and the permissions. */
  readonly mode: number;
  readonly size: number;
  /** Modification time in nanoseconds, as a decimal string (beyond 2^53). */
  readonly mtimeNs: string;
  /** A symlink's target; empty otherwise. */
  readonly link: string;
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/**
 * Walks `dir` with the .dockerignore `patterns` applied as the context sender
 * applies them: excluded entries are left out, and an excluded directory is
 * not read unless a `!` pattern may bring something under it back. Sockets,
 * devices and fifos are skipped, as docker's context sender skips them.
 */
export async function listContext(
  dir: string,
  patterns: readonly string[],
): Promise<ListingEntry[]> {
  const matcher =
    patterns.length === 0
      ? undefined
      : createIgnoreMatcher(parseDockerignore(patterns.join('\n'), '.dockerignore'));
  const entries: ListingEntry[] = [];
  const walk = async (relative: string): Promise<void> => {
    const absolute = relative === '' ? dir : join(dir, relative);
    let names: string[];
    try {
      names = await readdir(absolute);
    } catch (error) {
      throw readError(absolute, error);
    }
    names.sort();
    const stats = await Promise.all(
      names.map(async (name) => {
        const path = relative === '' ? name : `${relative}/${name}`;
        try {
          return { path, stat: await lstat(join(dir, path), { bigint: true }) };
        } catch (error) {
          throw readError(join(dir, path), error);
        }
      }),
    );
    for (const { path, stat } of stats) {
      const type = Number(stat.mode) & S_IFMT;
      const excluded = matcher?.excludes(path) === true;
      if (type === S_IFDIR) {
        if (!excluded) entries.push(entryOf(path, stat, ''));
        if (matcher === undefined || !excluded || matcher.mayContainIncluded(path))
          await walk(path);
        continue;
      }
      if (excluded || (type !== S_IFREG && type !== S_IFLNK)) continue;
      const link = type === S_IFLNK ? await readlink(join(dir, path)) : '';
      entries.push(entryOf(path, stat, link));
    }
  };
  await walk('');
  return entries;
}

function entryOf(
  path: string,
  stat: { mode: bigint; size: bigint; mtimeNs: bigint },
  link: string,
): ListingEntry {
  const mode = Number(stat.mode);
  return {
    path,
    mode,
    size: (mode & S_IFMT) === S_IFREG ? Number(stat.size) : 0,
    mtimeNs: stat.mtimeNs.toString(),
    link,
  };
}

function readError(path: string, error: unknown): TbuildError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  return new TbuildError('TB_FILE_READ', `cannot read ${path} of the build context (${code})`, {
    cause: error,
  });
}

/** The listing as it crosses the wire: lines of NUL-separated fields, gzipped (paths repeat). */
export function encodeListing(entries: readonly ListingEntry[]): Buffer {
  const text = entries
    .map((entry) =>
      [entry.path, entry.mode.toString(8), String(entry.size), entry.mtimeNs, entry.link].join(
        '\0',
      ),
    )
    .join('\n');
  return gzipSync(text, { level: 6 });
}

export function decodeListing(data: Buffer): ListingEntry[] {
  let text: string;
  try {
    text = gunzipSync(data).toString('utf8');
  } catch (error) {
    throw new TbuildError('TB_SERVICE_REQUEST', 'the context listing is not gzip', {
      cause: error,
    });
  }
  if (text === '') return [];
  return text.split('\n').map((line) => {
    const [path, mode, size, mtimeNs, link] = line.split('\0');
    const parts = (path ?? '').split('/');
    if (
      path === undefined ||
      path === '' ||
      path.startsWith('/') ||
      parts.some((part) => part === '' || part === '.' || part === '..') ||
      mode === undefined ||
      !/^[0-7]+$/.test(mode) ||
      size === undefined ||
      !/^\d+$/.test(size) ||
      mtimeNs === undefined ||
      !/^-?\d+$/.test(mtimeNs) ||
      link === undefined
    )
      throw new TbuildError('TB_SERVICE_REQUEST', 'a line of the context listing is malformed', {
        hint: 'the client and server speak different versions of the protocol',
      });
    return { path, mode: parseInt(mode, 8), size: Number(size), mtimeNs, link };
  });
}

/** Whether the kept copy's entry (from the last sync) still stands for the client's. */
export function sameEntry(kept: ListingEntry | undefined, entry: ListingEntry): boolean {
  return (
    kept !== undefined &&
    kept.mode === entry.mode &&
    kept.size === entry.size &&
    kept.mtimeNs === entry.mtimeNs &&
    kept.link === entry.link
  );
}
