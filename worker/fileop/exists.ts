import { lstat } from 'node:fs/promises';

/** Whether anything (even a dangling symlink) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}
