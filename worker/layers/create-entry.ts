import { constants } from 'node:fs';
import { mkdir, open, symlink } from 'node:fs/promises';
import { TbuildError, throwIfAborted } from '../../core/index.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, type LayerFs } from './layer-fs.js';
import type { TarEntry } from './tar-entry.js';

/**
 * Creates one tar entry at an already resolved, in-root `path`, with private
 * permissions: the caller sets owner, xattrs, mode and times afterwards (in that
 * order, since chown clears setuid). Files are created exclusively and never
 * through a symlink. Returns the bytes of file content written. Hardlinks are the
 * caller's: only it knows which targets are safe.
 */
export async function createEntry(
  entry: TarEntry,
  path: string,
  body: AsyncIterable<Buffer>,
  options: { readonly fs: Pick<LayerFs, 'mknod'>; readonly signal: AbortSignal },
): Promise<number> {
  switch (entry.type) {
    case 'directory':
      await mkdir(path, { mode: 0o700 }).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      });
      return 0;
    case 'file': {
      const flags =
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      const handle = await open(path, flags, 0o600);
      let written = 0;
      try {
        for await (const chunk of body) {
          throwIfAborted(options.signal);
          await handle.write(chunk);
          written += chunk.length;
        }
      } finally {
        await handle.close();
      }
      return written;
    }
    case 'symlink':
      await symlink(entry.linkname, path);
      return 0;
    case 'char':
    case 'block':
    case 'fifo': {
      const kind = entry.type === 'char' ? S_IFCHR : entry.type === 'block' ? S_IFBLK : S_IFIFO;
      options.fs.mknod(path, kind | 0o600, entry.devmajor, entry.devminor);
      return 0;
    }
    case 'hardlink':
      throw new TbuildError('TB_INTERNAL', 'hardlinks are linked, not created');
  }
}
