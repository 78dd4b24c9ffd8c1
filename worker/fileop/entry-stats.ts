import type { Stats } from 'node:fs';
import type { ScannedEntry } from '../../runtime/index.js';

/**
 * What a copy reads of an entry's lstat, from node:fs (a copy's top-level
 * sources) or from a native directory scan (everything below them: one call
 * per directory instead of an lstatSync and a Stats object per entry).
 * Times are milliseconds as node:fs computes them (sec * 1e3 + nsec / 1e6),
 * dev and ino exact decimal strings.
 */
export interface EntryStats {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly size: number;
  readonly dev: string;
  readonly ino: string;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

const S_IFMT = 0o170000;

export const isFile = (stats: EntryStats): boolean => (stats.mode & S_IFMT) === 0o100000;
export const isDirectory = (stats: EntryStats): boolean => (stats.mode & S_IFMT) === 0o040000;
export const isSymbolicLink = (stats: EntryStats): boolean => (stats.mode & S_IFMT) === 0o120000;

export function fromNodeStats(stats: Stats): EntryStats {
  return {
    mode: stats.mode,
    uid: stats.uid,
    gid: stats.gid,
    nlink: stats.nlink,
    size: stats.size,
    dev: String(stats.dev),
    ino: String(stats.ino),
    atimeMs: stats.atimeMs,
    mtimeMs: stats.mtimeMs,
    ctimeMs: stats.ctimeMs,
  };
}

export function fromScanned(entry: ScannedEntry): EntryStats {
  return {
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    nlink: entry.nlink,
    size: entry.size,
    dev: entry.dev,
    ino: entry.ino,
    atimeMs: entry.atimeSec * 1e3 + entry.atimeNsec / 1e6,
    mtimeMs: entry.mtimeSec * 1e3 + entry.mtimeNsec / 1e6,
    ctimeMs: entry.ctimeSec * 1e3 + entry.ctimeNsec / 1e6,
  };
}

/** A time in milliseconds as a Date holds it (truncated to whole ms), as utimes with a Date sets it. */
export function wholeMs(ms: number): number {
  return Math.trunc(ms);
}
