import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, storeIoError } from './atomic.js';

/**
 * Removes a directory tree so that it disappears at once: rename into
 * `trashDir` (atomic), then delete at leisure. A crash during the delete
 * leaves only trash, which the next GC empties.
 */
export async function removeTree(path: string, trashDir: string): Promise<boolean> {
  const aside = join(trashDir, randomBytes(6).toString('hex'));
  try {
    await rename(path, aside);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw storeIoError('remove', path, error);
  }
  await rm(aside, { recursive: true, force: true }).catch((error: unknown) => {
    throw storeIoError('remove', aside, error);
  });
  return true;
}
