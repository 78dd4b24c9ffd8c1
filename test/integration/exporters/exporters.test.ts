import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_TYPES, sha256Digest } from '../../../core/index.js';
import {
  buildManifest,
  DeterministicTar,
  DirectorySink,
  writeDockerArchive,
  writeOciLayout,
  type ImageBundle,
} from '../../../worker/index.js';
import { requires } from '../../harness/index.js';

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tbuild-exporters-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A one-layer image whose layer holds /hello with known content. */
async function sampleBundle(ociMediaTypes: boolean): Promise<ImageBundle> {
  const layerTar = pack();
  layerTar.entry({ name: 'hello', mode: 0o644, mtime: new Date(0), size: 6 }, 'world\n');
  layerTar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of layerTar) chunks.push(chunk as Buffer);
  const tar = Buffer.concat(chunks);
  const gz = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] },
    }),
  );
  const layer = {
    mediaType: ociMediaTypes ? MEDIA_TYPES.ociLayerGzip : MEDIA_TYPES.dockerLayerGzip,
    digest: sha256Digest(gz),
    size: gz.length,
  };
  const { manifest, config: configBlob } = buildManifest({
    config,
    layers: [layer],
    ociMediaTypes,
  });
  return {
    manifest,
    config: configBlob,
    layers: [{ descriptor: layer, open: () => Readable.from([gz]) }],
  };
}

async function writeTar(
  path: string,
  write: (tar: DeterministicTar) => Promise<void>,
): Promise<void> {
  const tar = await DeterministicTar.create();
  const done = pipeline(tar.stream, createWriteStream(path));
  await write(tar);
  tar.finalize();
  await done;
}

function skopeoInspect(transport: string): { Digest: string; Layers: string[] } {
  const output = execFileSync('skopeo', ['inspect', '--raw', transport], { encoding: 'utf8' });
  const digest = `sha256:${createHash('sha256').update(output).digest('hex')}`;
  const manifest = JSON.parse(output) as { layers: { digest: string }[] };
  return { Digest: digest, Layers: manifest.layers.map((layer) => layer.digest) };
}

describe('image exporters', () => {
  it('writes an OCI layout tar that skopeo reads with the same manifest digest', async (ctx) => {
    requires(ctx, 'skopeo');
    const bundle = await sampleBundle(true);
    const path = join(work, 'image-oci.tar');
    await writeTar(path, (tar) =>
      writeOciLayout(bundle, tar, { names: ['docker.io/library/app:1'] }),
    );
    const inspected = skopeoInspect(`oci-archive:${path}:1`);
    expect(inspected.Digest).toBe(bundle.manifest.descriptor.digest);
    expect(inspected.Layers).toEqual([bundle.layers[0]?.descriptor.digest]);
  });

  it('writes identical bytes for the same image twice', async () => {
    const first = join(work, 'a.tar');
    const second = join(work, 'b.tar');
    await writeTar(first, async (tar) =>
      writeOciLayout(await sampleBundle(true), tar, { names: ['app:1'] }),
    );
    await writeTar(second, async (tar) =>
      writeOciLayout(await sampleBundle(true), tar, { names: ['app:1'] }),
    );
    expect((await readFile(first)).equals(await readFile(second))).toBe(true);
  });

  it('writes an OCI layout directory that umoci unpacks', async (ctx) => {
    requires(ctx, 'root', 'umoci');
    const bundle = await sampleBundle(true);
    const layout = join(work, 'layout');
    await writeOciLayout(bundle, new DirectorySink(layout), { names: ['localhost/app:v2'] });
    const unpacked = join(work, 'unpacked');
    execFileSync('umoci', ['unpack', '--image', `${layout}:v2`, unpacked], { stdio: 'pipe' });
    expect(await readFile(join(unpacked, 'rootfs/hello'), 'utf8')).toBe('world\n');
  });

  it('writes a docker archive with Docker media types that skopeo reads', async (ctx) => {
    requires(ctx, 'skopeo');
    const bundle = await sampleBundle(false);
    const path = join(work, 'image-docker.tar');
    await writeTar(path, (tar) =>
      writeDockerArchive(bundle, tar, { names: ['docker.io/library/app:1'] }),
    );
    // A docker archive names layers by their uncompressed digest (the config's diff_ids).
    const inspected = skopeoInspect(`docker-archive:${path}`);
    const config = JSON.parse(bundle.config.bytes.toString()) as { rootfs: { diff_ids: string[] } };
    expect(inspected.Layers).toEqual(config.rootfs.diff_ids);
    const manifest = JSON.parse(
      execFileSync('tar', ['-xOf', path, 'manifest.json'], { encoding: 'utf8' }),
    ) as { RepoTags: string[] }[];
    expect(manifest[0]?.RepoTags).toEqual(['app:1']);
  });
});
