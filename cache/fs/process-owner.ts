import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

/**
 * Who owns a lock, lease or active snapshot: a pid plus that process's start
 * time, so a pid reused by an unrelated process is not taken for the owner.
 * The root must be on a local filesystem (overlay mounts need one), so a
 * dead pid means a dead owner; no mtime heartbeat is needed.
 */
export interface ProcessOwner {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); 0 where /proc is missing. */
  readonly start: number;
}

function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

let self: ProcessOwner | undefined;

export function currentOwner(): ProcessOwner {
  self ??= { pid: process.pid, start: startTime(process.pid) ?? 0 };
  return self;
}

export function isOwnerAlive(owner: ProcessOwner): boolean {
  const start = startTime(owner.pid);
  if (start !== undefined) return owner.start === 0 || start === owner.start;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function isProcessOwner(value: unknown): value is ProcessOwner {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate['pid'] === 'number' && typeof candidate['start'] === 'number';
}

/** The pid a temp file name starts with (`<pid>-<threadId>-<random>`), for cleanup. */
export function tempNamePid(name: string): number | undefined {
  const match = /^(\d+)-\d+-/.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export function tempNameFor(): string {
  const random = randomBytes(5).toString('hex');
  return `${String(process.pid)}-${String(threadId)}-${random}`;
}
