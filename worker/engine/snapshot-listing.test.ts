import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { neverAborted as signal } from '../../core/index.js';
import { openStore, type DirectoryLister } from '../../cache/index.js';
import { nativeFs } from '../../runtime/index.js';

/** The lister the engine hands its store. */
const scanned: DirectoryLister = (path) => nativeFs.scanDirectory(path).entries();

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-listing-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('snapshot summaries listed with scanDirectory', () => {
  it('equal those listed with node:fs, so either checks what the other committed', async () => {
    const writer = await openStore({ root, durable: false, listDirectory: scanned });
    const active = await writer.snapshots.prepare({ signal });
    const upper = active.upperdir;
    await mkdir(join(upper, 'dir/sub'), { recursive: true });
    await writeFile(join(upper, 'dir/sub/file'), 'bytes');
    await writeFile(join(upper, 'B'), 'upper case sorts first');
    await writeFile(join(upper, '\u{1F600}'), 'astral');
    await writeFile(join(upper, '\uFF21'), 'fullwidth');
    await chmod(join(upper, 'B'), 0o4750);
    await symlink('dir/sub/file', join(upper, 'link'));
    execFileSync('mkfifo', [join(upper, 'pipe')]);
    const committed = await writer.snapshots.commit(active.id, { signal });

    const checker = await openStore({ root, durable: false });
    const verified = await checker.snapshots.verify(committed.id, { signal });
    expect(verified.tree).toEqual(committed.tree);
    expect(committed.tree.entries).toBe(8);

    await chmod(join(checker.snapshots.path(committed.id), 'dir/sub/file'), 0o600);
    const again = await openStore({ root, durable: false, listDirectory: scanned });
    await expect(again.snapshots.verify(committed.id, { signal })).rejects.toMatchObject({
      code: 'TB_SNAPSHOT_CORRUPT',
    });
  });
});
