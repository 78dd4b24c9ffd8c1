import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { type Digest, sha256Digest } from '../../core/index.js';

/**
 * Writes a random image as an OCI layout (the input both tbuild and `skopeo copy` read):
 * gzip layers of random bytes (level 1: random data does not compress, and gzip keeps
 * the layers valid for any client that looks), a config naming their diff_ids.
 */

export interface LayoutLayer {
  readonly digest: Digest;
  readonly size: number;
  readonly file: string;
}

export interface BenchImage {
  readonly dir: string;
  readonly tag: string;
  readonly layers: readonly LayoutLayer[];
  readonly config: { readonly digest: Digest; readonly size: number; readonly bytes: Buffer };
  readonly totalBytes: number;
}

async function writeLayer(
  blobsDir: string,
  bytes: number,
): Promise<LayoutLayer & { diffId: Digest }> {
  const temp = path.join(blobsDir, `tmp-${randomBytes(6).toString('hex')}`);
  const raw = createHash('sha256');
  const stored = createHash('sha256');
  let size = 0;
  const chunk = 1024 * 1024;
  const source = Readable.from(
    (function* () {
      for (let left = bytes; left > 0; left -= chunk) {
        const data = randomBytes(Math.min(chunk, left));
        raw.update(data);
        yield data;
      }
    })(),
  );
  const gzip = createGzip({ level: 1 });
  gzip.on('data', (data: Buffer) => {
    stored.update(data);
    size += data.length;
  });
  await pipeline(source, gzip, createWriteStream(temp));
  const hex = stored.digest('hex');
  const file = path.join(blobsDir, hex);
  await rename(temp, file);
  return {
    digest: `sha256:${hex}` as Digest,
    size,
    file,
    diffId: `sha256:${raw.digest('hex')}` as Digest,
  };
}

export async function writeBenchImage(
  dir: string,
  layerCount: number,
  layerBytes: number,
): Promise<BenchImage> {
  const blobsDir = path.join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  const layers: (LayoutLayer & { diffId: Digest })[] = [];
  for (let i = 0; i < layerCount; i++) layers.push(await writeLayer(blobsDir, layerBytes));
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created_by: 'bench' })),
    }),
  );
  const config = {
    digest: sha256Digest(configBytes),
    size: configBytes.length,
    bytes: configBytes,
  };
  await writeFile(path.join(blobsDir, config.digest.slice(7)), configBytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: config.digest,
        size: config.size,
      },
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: l.digest,
        size: l.size,
      })),
    }),
  );
  const manifestDigest = sha256Digest(manifest);
  await writeFile(path.join(blobsDir, manifestDigest.slice(7)), manifest);
  const tag = 'bench';
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  const totalBytes = layers.reduce((sum, l) => sum + l.size, config.size);
  return { dir, tag, layers, config, totalBytes };
}
