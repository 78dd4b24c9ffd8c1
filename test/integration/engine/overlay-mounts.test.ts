import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTbuildError } from '../../../core/index.js';
import { makeMountPoint, mountOverlay, unmount } from '../../../worker/engine/overlay.js';
import { removeTree, requires } from '../../harness/index.js';

/**
 * Issue #17: overlays mounted from Node pass their lowerdirs relative to the
 * layers' common directory (nativeFs.mountFromDir chdirs on a thread of its
 * own), so the depth they reach does not depend on the root's path. The base
 * here is over 100 characters deep, where absolute lowerdirs fit 38 layers.
 */
let base = '';
beforeAll(() => {
  if (process.getuid?.() !== 0) return;
  mkdirSync('/tmp/tbt', { recursive: true });
  base = join(mkdtempSync('/tmp/tbt/overlay-'), 'a-root-whose-path-is-long-'.padEnd(100, 'x'));
  mkdirSync(join(base, 's'), { recursive: true });
});
afterAll(() => {
  if (base !== '') removeTree(join(base, '..'));
});

/** `count` layer directories named like snapshots (6 characters), each with one file; top first. */
function layers(count: number): string[] {
  return Array.from({ length: count }, (_, index) => {
    const dir = join(base, 's', `l${String(index).padStart(5, '0')}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${String(index)}`), String(index));
    return dir;
  }).reverse();
}

describe('overlay mounts from Node', () => {
  it('mounts 500 read-only layers under a long root, and the cwd stays', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const cwd = process.cwd();
    const target = await makeMountPoint(join(base, 'mnt'));
    mountOverlay(target, { lowerDirs: layers(500) });
    try {
      expect(readdirSync(target)).toHaveLength(500);
      expect(readFileSync(join(target, 'f499'), 'utf8')).toBe('499');
      expect(process.cwd()).toBe(cwd);
    } finally {
      await unmount(target);
    }
  });

  it('mounts a writable overlay whose changes land in the upper directory', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const upperDir = join(base, 's', '_active', 'up0001', 'fs');
    const workDir = join(base, 's', '_active', 'up0001', 'work');
    mkdirSync(upperDir, { recursive: true });
    mkdirSync(workDir, { recursive: true });
    const target = await makeMountPoint(join(base, 'mnt'));
    mountOverlay(target, { lowerDirs: layers(300), upperDir, workDir });
    try {
      writeFileSync(join(target, 'new'), 'written');
    } finally {
      await unmount(target);
    }
    expect(readFileSync(join(upperDir, 'new'), 'utf8')).toBe('written');
  });

  it('refuses more layers than a page of options holds with TB_RUNTIME_SPEC', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const target = await makeMountPoint(join(base, 'mnt'));
    expect(() => {
      mountOverlay(target, { lowerDirs: layers(700) });
    }).toThrow(expect.toSatisfy((error) => isTbuildError(error, 'TB_RUNTIME_SPEC')));
    rmdirSync(target); // never mounted
  });
});
