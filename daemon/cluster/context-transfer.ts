import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack, type Pack } from 'tar-stream';
import { TbuildError } from '../../core/index.js';
import type { ServiceLimits } from '../config.js';
import { extractContextTar } from '../context-tar.js';

/**
 * A build context for another node: the checked, extracted directory packed
 * again as a gzipped tar (regular files, directories, symlinks; a hard link
 * goes as a copy), at most `maxBytes` once compressed. It is kept in Redis
 * under a TTL key until the build ends (docs/service.md says why Redis and
 * not the registry).
 */
export async function packContext(
  dir: string,
  maxBytes: number,
  signal: AbortSignal,
): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  let size = 0;
  const collecting = pipeline(
    archive,
    createGzip({ level: 1 }),
    async function (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > maxBytes)
          throw new TbuildError(
            'TB_SERVICE_LIMIT',
            `the context is larger than ${String(maxBytes)} bytes once packed for the shared queue`,
            {
              hint: 'raise queue.contextBytes in the service config, or leave files out with .dockerignore',
            },
          );
        chunks.push(chunk);
      }
    },
    { signal },
  );
  try {
    await addTree(archive, dir, '');
    archive.finalize();
  } catch (error) {
    archive.destroy(error as Error);
  }
  await collecting;
  return Buffer.concat(chunks);
}

async function addTree(archive: Pack, root: string, prefix: string): Promise<void> {
  const entries = await readdir(join(root, prefix), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    const path = join(root, name);
    const info = await lstat(path);
    const header = { name, mode: info.mode & 0o7777, mtime: info.mtime };
    if (info.isDirectory()) {
      await entryDone(archive, { ...header, type: 'directory' });
      await addTree(archive, root, name);
    } else if (info.isSymbolicLink()) {
      await entryDone(archive, { ...header, type: 'symlink', linkname: await readlink(path) });
    } else if (info.isFile()) {
      await new Promise<void>((resolve, reject) => {
        const sink = archive.entry({ ...header, type: 'file', size: info.size }, (error) => {
          if (error) reject(error);
          else resolve();
        });
        createReadStream(path).on('error', reject).pipe(sink);
      });
    }
  }
}

function entryDone(archive: Pack, header: Parameters<Pack['entry']>[0]): Promise<void> {
  return new Promise((resolve, reject) => {
    archive.entry(header, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

/** Writes a context packed by packContext into `dir`, with the same checks as a request's. */
export async function unpackContext(
  packed: Buffer,
  dir: string,
  limits: ServiceLimits,
  signal: AbortSignal,
): Promise<void> {
  await extractContextTar(Readable.from([packed]), dir, limits, signal);
}
