import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isTbuildError, TbuildError } from '../../../core/index.js';
import { applyCopy, resolveInRoot, type PathFilter } from '../../fileop/index.js';

/**
 * What a RUN bind mount of the context shows: the context directory itself
 * when .dockerignore leaves nothing out below the mounted path, else a copy
 * of what it keeps (made in `scratch`, which the caller removes after the
 * run). BuildKit mounts the context as the client sent it, and the client
 * never sends what .dockerignore excludes (tonistiigi/fsutil filter.go), so a
 * step cannot read an excluded file (often a secret) through a bind mount; the
 * step's cache key (the context checksum) leaves those files out as well.
 */
export async function contextBindSource(
  contextDir: string,
  selector: string,
  filter: PathFilter,
  scratch: () => Promise<string>,
  signal: AbortSignal,
): Promise<{ readonly path: string; readonly copied: boolean }> {
  const selected = await resolveInRoot(contextDir, selector, true);
  const relative = selected === contextDir ? '' : selected.slice(contextDir.length + 1);
  if (!leavesOut(selected, relative, filter)) return { path: selected, copied: false };
  const dir = await scratch();
  await copyKept(contextDir, selector, filter, dir, signal);
  return { path: join(dir, 'view'), copied: true };
}

/** `selector` of the context, less what the filter leaves out, copied to `<dir>/view`. */
async function copyKept(
  contextDir: string,
  selector: string,
  filter: PathFilter,
  dir: string,
  signal: AbortSignal,
): Promise<void> {
  await applyCopy(
    {
      action: 'copy',
      src: selector,
      dest: '/view',
      followSymlinks: true,
      dirContents: false,
      createDestPath: true,
      allowWildcard: false,
      allowEmptyWildcard: false,
      includePatterns: [],
      excludePatterns: [],
      parents: false,
      unpack: false,
    },
    { sourceRoot: contextDir, destRoot: dir, excludes: filter, signal },
  ).catch((error: unknown) => {
    if (!isTbuildError(error, 'TB_COPY_SOURCE_NOT_FOUND')) throw error;
    throw new TbuildError(
      'TB_COPY_SOURCE_NOT_FOUND',
      `bind mount source ${selector} is not in the context: .dockerignore leaves it out`,
      { hint: 'add a ! exception for it to .dockerignore, or mount another path', cause: error },
    );
  });
}

/** Whether the filter leaves out the path or anything below it (a directory). */
function leavesOut(host: string, relative: string, filter: PathFilter): boolean {
  if (relative !== '' && filter.excludes(relative)) return true;
  let entries;
  try {
    entries = readdirSync(host, { withFileTypes: true });
  } catch {
    // Not a directory (or gone): nothing below it.
    return false;
  }
  for (const entry of entries) {
    const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (filter.excludes(path)) return true;
    if (entry.isDirectory() && leavesOut(`${host}/${entry.name}`, path, filter)) return true;
  }
  return false;
}
