import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDirectoryOutput } from '../../../builder/output-files.js';
import { requires } from '../../harness/index.js';

describe('a directory output whose dest is a mount point', () => {
  it('cannot be renamed, so its entries are swapped: new files over old, others kept', async (ctx) => {
    requires(ctx, 'root');
    const dir = await mkdtemp(join(tmpdir(), 'tbuild-output-mount-'));
    const dest = join(dir, 'out');
    await mkdir(dest);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', dest], { encoding: 'utf8' });
    expect(mounted.stderr).toBe('');
    try {
      await writeFile(join(dest, 'kept'), 'kept');
      await mkdir(join(dest, 'sub'));
      await writeFile(join(dest, 'sub', 'old'), 'old');
      await writeDirectoryOutput(dest, { signal: new AbortController().signal }, async (into) => {
        await writeFile(join(into, 'added'), 'added');
        await mkdir(join(into, 'sub'), { recursive: true });
        await writeFile(join(into, 'sub', 'new'), 'new');
      });
      expect((await readdir(dest)).sort()).toEqual(['added', 'kept', 'sub']);
      expect((await readdir(join(dest, 'sub'))).sort()).toEqual(['new', 'old']);
      expect(await readFile(join(dest, 'kept'), 'utf8')).toBe('kept');
      // Nothing left beside dest (the temp dir was made inside the mount, and is gone).
      expect(await readdir(dir)).toEqual(['out']);
    } finally {
      spawnSync('umount', ['-l', dest]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
