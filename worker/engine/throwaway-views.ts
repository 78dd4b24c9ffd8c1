import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tempNameFor } from '../../cache/index.js';
import type { BuildStore } from './store.js';
import { makeMountPoint, mountOverlay, unmount } from './overlay.js';

/**
 * Writable views whose writes are thrown away: `RUN --mount=type=bind,rw`.
 * BuildKit lets the step write to such a mount and discards what it wrote; the
 * source (a committed snapshot, the context directory) must never change. A
 * directory gets an overlay with a scratch upper directory, a file a scratch
 * copy. `release` removes them all; a killed process leaves a mount point and a
 * temp directory that the next engine on the root removes (both named by pid).
 */
export class ThrowawayViews {
  readonly #store: BuildStore;
  readonly #cleanups: (() => Promise<void>)[] = [];

  constructor(store: BuildStore) {
    this.#store = store;
  }

  /** A writable path showing `source`'s content. */
  async writable(source: string): Promise<string> {
    const scratch = join(this.#store.layout.tmp, tempNameFor());
    await mkdir(scratch);
    this.#cleanups.push(() => rm(scratch, { recursive: true, force: true }));
    if (!(await stat(source)).isDirectory()) {
      const copy = join(scratch, 'file');
      await copyFile(source, copy);
      return copy;
    }
    const upperDir = join(scratch, 'upper');
    const workDir = join(scratch, 'work');
    await Promise.all([mkdir(upperDir), mkdir(workDir)]);
    const target = await makeMountPoint(join(this.#store.layout.tmp, 'mnt'));
    mountOverlay(target, { lowerDirs: [source], upperDir, workDir });
    this.#cleanups.push(() => unmount(target));
    return target;
  }

  /** An empty directory of the store's, removed with the views (a filtered context copy). */
  async scratch(): Promise<string> {
    const scratch = join(this.#store.layout.tmp, tempNameFor());
    await mkdir(scratch);
    this.#cleanups.push(() => rm(scratch, { recursive: true, force: true }));
    return scratch;
  }

  /** Something else to undo with the views (an ssh agent socket served for the run). */
  onRelease(cleanup: () => Promise<void>): void {
    this.#cleanups.push(cleanup);
  }

  /** Unmounts and removes every view, newest first. */
  async release(): Promise<void> {
    for (const cleanup of this.#cleanups.splice(0).reverse())
      await cleanup().catch(() => undefined);
  }
}
