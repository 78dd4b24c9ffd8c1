import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires, rootWithBusybox, runTbuild } from '../harness/index.js';

/** tbuild images, du and prune through the built CLI, on a root with one built image. */
describe('tbuild images, du, prune', () => {
  it('lists images, reports usage and prunes like docker', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const root = await rootWithBusybox();
    const context = await mkdtemp(join(tmpdir(), 'tbuild-cmds-'));
    ctx.onTestFinished(async () => {
      await rm(root, { recursive: true, force: true });
      await rm(context, { recursive: true, force: true });
    });
    await writeFile(
      join(context, 'Dockerfile'),
      'FROM busybox\nRUN --mount=type=cache,target=/c echo hi > /c/x && echo a > /a\n',
    );
    const built = runTbuild(['build', '-q', '-t', 'demo/app:v1', context], { root });
    expect(built.code, built.stderr).toBe(0);

    const images = runTbuild(['images'], { root });
    expect(images.code, images.stderr).toBe(0);
    expect(images.stdout).toMatch(/^REPOSITORY {3}TAG {6}IMAGE ID {7}CREATED {2,}SIZE$/m);
    expect(images.stdout).toMatch(/^demo\/app {5}v1 {7}[0-9a-f]{12} {3}.* ago {3,}[\d.]+[kM]?B$/m);
    expect(images.stdout).toMatch(/^busybox +latest /m);
    const ids = runTbuild(['images', '-q', 'demo/app'], { root }).stdout.trim().split('\n');
    expect(ids).toHaveLength(1);
    const full = runTbuild(['images', '--no-trunc', '--format', 'json', 'demo/app:v1'], { root });
    const row = JSON.parse(full.stdout) as { ID: string; Repository: string; Tag: string };
    expect(row).toMatchObject({ Repository: 'demo/app', Tag: 'v1' });
    expect(row.ID).toMatch(new RegExp(`^sha256:${ids[0] ?? 'x'}[0-9a-f]{52}$`));

    const du = runTbuild(['du'], { root });
    expect(du.code, du.stderr).toBe(0);
    expect(du.stdout).toMatch(/^ID +RECLAIMABLE +SIZE +LAST ACCESSED$/m);
    expect(du.stdout).toMatch(/^Reclaimable: +\S+$/m);
    const total = /^Total: +(\S+)$/m.exec(du.stdout)?.[1];
    expect(total).toBeDefined();

    // Without --force and with no answer on stdin, nothing is removed.
    expect(runTbuild(['prune'], { root }).code).toBe(0);
    expect(runTbuild(['du'], { root }).stdout).toContain(`Total:         ${total ?? ''}`);
    const pruned = runTbuild(['prune', '--all', '--force'], { root });
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toMatch(/^Total:\t[\d.]+[kMG]?B$/m);
    const after = runTbuild(['du'], { root });
    expect(after.stdout).toMatch(/^Reclaimable: +0B$/m);
    // The image stays, and builds on it still work.
    expect(runTbuild(['images', '-q', 'demo/app:v1'], { root }).stdout.trim()).toBe(ids[0]);
    expect(runTbuild(['build', '-q', '-t', 'demo/app:v2', context], { root }).code).toBe(0);
  }, 180_000);

  it('has --help and usage errors with exit code 2', () => {
    for (const command of ['images', 'du', 'prune']) {
      const help = runTbuild([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: tbuild ${command}`);
    }
    expect(runTbuild(['prune', '--keep-storage', '10XB', '-f']).code).toBe(2);
    expect(runTbuild(['prune', '--filter', 'until=3x', '-f']).code).toBe(2);
    expect(runTbuild(['prune', '--filter', 'label=x', '-f']).code).toBe(2);
    expect(runTbuild(['images', '--format', 'yaml']).code).toBe(2);
    expect(runTbuild(['du', '--verbos']).stderr).toMatch(/did you mean --verbose/);
  });
});
