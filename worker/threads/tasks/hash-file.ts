import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

const READ_SIZE = 1024 * 1024;

/** sha256 (hex) of a file's bytes, read in place on a thread; never the whole file in memory. */
export function hashFile(path: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(READ_SIZE);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const read = readSync(fd, buffer, 0, READ_SIZE, null);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * hashFile for a batch of small files: one thread round trip for many files,
 * so a context of thousands of small files is hashed off the main thread
 * without paying a message per file.
 */
export function hashFiles(paths: readonly string[]): string[] {
  return paths.map((path) => createHash('sha256').update(readFileSync(path)).digest('hex'));
}
