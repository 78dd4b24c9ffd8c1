import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { rootWithBusybox } from './tbuild-cli.js';

/**
 * The fixture most e2e files share: a root holding the busybox image and a
 * scratch directory (named after `prefix`), made before the file's tests when
 * running as root (tests without root skip through `requires`) and removed
 * after them. `ready` receives both once made.
 */
export function useBuildRoot(
  prefix: string,
  ready: (dirs: { readonly root: string; readonly work: string }) => void,
): void {
  const dirs = { root: '', work: '' };
  beforeAll(async () => {
    if (process.getuid?.() !== 0) return;
    dirs.root = await rootWithBusybox();
    dirs.work = await mkdtemp(join(tmpdir(), prefix));
    ready(dirs);
  });
  afterAll(async () => {
    for (const dir of [dirs.root, dirs.work])
      if (dir !== '') await rm(dir, { recursive: true, force: true });
  });
}
