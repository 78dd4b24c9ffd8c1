import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TbuildError } from '../../core/index.js';

/** Where the page's files live, relative to tbuild's package root. */
const STATIC_PATH = 'daemon/web/static';

/**
 * The directory of the web view's static files. They are never compiled or
 * copied: this walks up from the running file (daemon/web/ from source,
 * dist/daemon/web/, or the CLI bundle in dist/bundle/cli/) to the package.json
 * named tbuild and takes daemon/web/static below it, so every way of running
 * finds the same files.
 */
export function findStaticDir(from: string = import.meta.url): string {
  let directory = dirname(fileURLToPath(from));
  for (;;) {
    if (isTbuildPackage(directory)) {
      const found = join(directory, STATIC_PATH);
      if (existsSync(join(found, 'index.html'))) return found;
      break;
    }
    const parent = dirname(directory);
    if (parent === directory) break;
    directory = parent;
  }
  throw new TbuildError('TB_INTERNAL', `the web view's files are missing (${STATIC_PATH})`, {
    hint: 'tbuild runs from its package directory, which ships daemon/web/static',
  });
}

function isTbuildPackage(directory: string): boolean {
  const manifest = join(directory, 'package.json');
  if (!existsSync(manifest)) return false;
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'tbuild';
  } catch {
    return false;
  }
}
