/**
 * Registry push/pull benchmark of issue #5: a 500 MB image of five random layers pushed to
 * and pulled from a local docker-registry, by tbuild's registry-client and by `skopeo copy`
 * (OCI layout → registry → OCI layout). Each tool gets a fresh registry per run.
 *
 *   npx tsx bench/registry/run.ts [--runs N] [--layer-mb M] [--layers K]
 *
 * Prints the median throughput of each direction per tool and tbuild/skopeo ratios.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { mapLimit } from '../../core/index.js';
import { commandExists, formatMs, median, timeCommand } from './measure.js';
import { startRegistry } from '../../test/harness/index.js';
import {
  MEDIA_TYPES,
  RegistryClient,
  fetchBlob,
  fetchBlobBytes,
  parseReference,
  pushImage,
  resolveImage,
} from '../../registry-client/index.js';
import { type BenchImage, writeBenchImage } from './image-layout.js';

const args = process.argv.slice(2);
const valueOf = (flag: string, fallback: number): number => {
  const index = args.indexOf(flag);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const runs = valueOf('--runs', 1);
const layerCount = valueOf('--layers', 5);
const layerBytes = valueOf('--layer-mb', 100) * 1024 * 1024;
const signal = new AbortController().signal;

async function tbuildRound(
  image: BenchImage,
  work: string,
): Promise<{ pushMs: number; pullMs: number }> {
  const registry = await startRegistry();
  const client = new RegistryClient();
  try {
    const ref = parseReference(`${registry.host}/bench/tbuild:${image.tag}`);
    let started = performance.now();
    await pushImage(
      client,
      ref,
      {
        config: {
          digest: image.config.digest,
          size: image.config.size,
          open: () => image.config.bytes,
        },
        layers: image.layers.map((l) => ({
          ...l,
          mediaType: MEDIA_TYPES.ociLayerGzip,
          open: () => createReadStream(l.file),
        })),
        ociMediaTypes: true,
      },
      [image.tag],
      { signal, concurrency: 5 },
    );
    const pushMs = performance.now() - started;

    const out = path.join(work, 'tbuild-pull');
    await mkdir(out, { recursive: true });
    started = performance.now();
    const resolved = await resolveImage(client, ref, { signal });
    await fetchBlobBytes(client, ref, resolved.manifest.image.config, { signal });
    await mapLimit(
      resolved.manifest.image.layers,
      5,
      (layer, _i, taskSignal) =>
        pipeline(
          fetchBlob(client, ref, layer, { signal: taskSignal }),
          createWriteStream(path.join(out, layer.digest.slice(7))),
        ),
      signal,
    );
    const pullMs = performance.now() - started;
    await rm(out, { recursive: true, force: true });
    return { pushMs, pullMs };
  } finally {
    client.close();
    await registry.stop();
  }
}

async function skopeoRound(
  image: BenchImage,
  work: string,
): Promise<{ pushMs: number; pullMs: number }> {
  const registry = await startRegistry();
  try {
    const remote = `docker://${registry.host}/bench/skopeo:${image.tag}`;
    const pushMs = timeCommand('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      `oci:${image.dir}:${image.tag}`,
      remote,
    ]);
    const out = path.join(work, 'skopeo-pull');
    const pullMs = timeCommand('skopeo', [
      'copy',
      '--src-tls-verify=false',
      remote,
      `oci:${out}:${image.tag}`,
    ]);
    await rm(out, { recursive: true, force: true });
    return { pushMs, pullMs };
  } finally {
    await registry.stop();
  }
}

const mbps = (bytes: number, ms: number): string =>
  `${(bytes / 1024 / 1024 / (ms / 1000)).toFixed(0)} MB/s`;

const work = await mkdtemp(path.join(tmpdir(), 'tbuild-bench-registry-'));
try {
  if (!commandExists('docker-registry'))
    throw new Error('needs docker-registry (bash scripts/setup.sh)');
  const image = await writeBenchImage(path.join(work, 'layout'), layerCount, layerBytes);
  console.log(
    `image: ${String(layerCount)} layers, ${(image.totalBytes / 1024 / 1024).toFixed(0)} MB; ${String(runs)} run(s) each`,
  );
  const tools: [string, () => Promise<{ pushMs: number; pullMs: number }>][] = [
    ['tbuild', () => tbuildRound(image, work)],
  ];
  if (commandExists('skopeo')) tools.push(['skopeo', () => skopeoRound(image, work)]);
  else console.log('skopeo not installed: tbuild only');
  const results = new Map<string, { push: number; pull: number }>();
  const samples = new Map<string, { push: number[]; pull: number[] }>(
    tools.map(([name]) => [name, { push: [], pull: [] }]),
  );
  for (let run = 0; run < runs; run++) {
    for (const [name, round] of tools) {
      const { pushMs, pullMs } = await round();
      samples.get(name)?.push.push(pushMs);
      samples.get(name)?.pull.push(pullMs);
    }
  }
  for (const [name, s] of samples) {
    const push = median(s.push);
    const pull = median(s.pull);
    results.set(name, { push, pull });
    console.log(
      `${name.padEnd(7)} push ${formatMs(push).padStart(8)} (${mbps(image.totalBytes, push)})   pull ${formatMs(pull).padStart(8)} (${mbps(image.totalBytes, pull)})`,
    );
  }
  const ours = results.get('tbuild');
  const theirs = results.get('skopeo');
  if (ours !== undefined && theirs !== undefined) {
    console.log(
      `tbuild/skopeo throughput: push ${(theirs.push / ours.push).toFixed(2)}x, pull ${(theirs.pull / ours.pull).toFixed(2)}x`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
