import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires, runTbuild, useBuildRoot } from '../harness/index.js';

/** zstd layers: written by `-o …,compression=zstd`, read back by `tbuild load` and FROM. */
let root = '';
let work = '';

useBuildRoot('tbuild-zstd-', (dirs) => {
  ({ root, work } = dirs);
});

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

describe('zstd layers', () => {
  it('exports zstd layers whose contents are the diff ids, and builds FROM them after a load', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const archive = join(work, 'zstd.tar');
    const built = runTbuild(
      [
        'build',
        '-q',
        '-o',
        `type=oci,dest=${archive},name=example/zstd:1,compression=zstd,compression-level=19`,
        'Dockerfile.examples/multi-stage',
      ],
      { root },
    );
    expect(built.code, built.stderr).toBe(0);
    const layout = join(work, 'layout');
    await mkdir(layout);
    execFileSync('tar', ['-xf', archive, '-C', layout]);
    const blob = async (digest: string): Promise<Buffer> =>
      readFile(join(layout, 'blobs/sha256', digest.slice(7)));
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    const manifest = JSON.parse((await blob(index.manifests[0]?.digest ?? '')).toString()) as {
      config: { digest: string };
      layers: { digest: string; mediaType: string }[];
    };
    // -q prints the image ID, the config's digest.
    expect(manifest.config.digest).toBe(built.stdout.trim());
    const config = JSON.parse((await blob(manifest.config.digest)).toString()) as {
      rootfs: { diff_ids: string[] };
    };
    expect(manifest.layers.map((layer) => layer.mediaType)).toEqual(
      manifest.layers.map(() => 'application/vnd.oci.image.layer.v1.tar+zstd'),
    );
    for (const [index, layer] of manifest.layers.entries()) {
      const bytes = await blob(layer.digest);
      expect(bytes.subarray(0, 4).equals(ZSTD_MAGIC)).toBe(true);
      const tar = execFileSync('zstd', ['-dc'], { input: bytes, maxBuffer: 256 * 1024 * 1024 });
      expect(`sha256:${createHash('sha256').update(tar).digest('hex')}`).toBe(
        config.rootfs.diff_ids[index],
      );
    }

    const fresh = await mkdtemp(join(tmpdir(), 'tbuild-zstd-root-'));
    try {
      expect(runTbuild(['load', archive], { root: fresh }).code).toBe(0);
      const context = join(work, 'from-zstd');
      await mkdir(context);
      await writeFile(join(context, 'Dockerfile'), 'FROM example/zstd:1\nRUN greet zstd > /out\n');
      const out = join(work, 'out');
      const result = runTbuild(['build', '-o', `type=local,dest=${out}`, context], { root: fresh });
      expect(result.code, result.stderr).toBe(0);
      expect(await readFile(join(out, 'out'), 'utf8')).toContain('hello, zstd');
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('refuses zstd with Docker media types, which have no zstd type', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const result = runTbuild(
      [
        'build',
        '-o',
        `type=oci,dest=${join(work, 'x.tar')},compression=zstd,oci-mediatypes=false`,
        'Dockerfile.examples/multi-stage',
      ],
      { root },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('zstd layers need OCI media types');
  });
});
