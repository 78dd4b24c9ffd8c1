/**
 * `FROM` pull + extract benchmark of issue #5: a five-layer image made of real files from
 * this machine (/usr/include, /usr/share/doc, /usr/lib/gcc, /usr/share/locale,
 * /usr/lib/python3.11: about 550 MB of tar, 210 MB gzip, tens of thousands of files) is
 * pushed to a fresh local docker-registry with skopeo, then `tbuild build` of
 * `FROM <it>` + `COPY` runs in a fresh root each time, so every layer is downloaded,
 * verified, extracted and committed.
 *
 *   npm run build && npx tsx bench/registry/from-pull.ts [--runs N] [--bin other/bin/tbuild.js]
 *
 * `--bin` (repeatable) times other checkouts too, e.g. a `git worktree` of an older commit.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { commandExists, formatMs, median } from './measure.js';
import { REPO_ROOT, startRegistry } from '../../test/harness/index.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 1) || 1;
const bins = [path.join(REPO_ROOT, 'bin/tbuild.js')];
args.forEach((arg, index) => {
  const next = args[index + 1];
  if (arg === '--bin' && next !== undefined) bins.push(path.resolve(next));
});
const DIRS = [
  'usr/include',
  'usr/share/doc',
  'usr/lib/gcc',
  'usr/share/locale',
  'usr/lib/python3.11',
];

function run(command: string, commandArgs: readonly string[], input?: Buffer): Buffer {
  const result = spawnSync(command, commandArgs, { input, maxBuffer: 1 << 30 });
  if (result.status !== 0) {
    throw new Error(`${command} failed: ${result.stderr.toString().slice(-2000)}`);
  }
  return result.stdout;
}

/** An OCI layout of one gzip layer per directory, made with GNU tar and gzip. */
async function writeLayout(dir: string): Promise<number> {
  const blobs = path.join(dir, 'blobs/sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (bytes: Buffer): Promise<string> => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(path.join(blobs, hex), bytes);
    return `sha256:${hex}`;
  };
  const layers = [];
  const diffIds = [];
  let tarBytes = 0;
  for (const source of DIRS.filter((d) => existsSync(`/${d}`))) {
    const tar = run('tar', ['-C', '/', '--numeric-owner', '-cf', '-', source]);
    const gz = run('gzip', ['-1', '-n'], tar);
    tarBytes += tar.length;
    diffIds.push(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
    layers.push({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: await put(gz),
      size: gz.length,
    });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: await put(config),
        size: config.length,
      },
      layers,
    }),
  );
  const manifestDigest = await put(manifest);
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'bench' },
        },
      ],
    }),
  );
  return tarBytes;
}

const work = await mkdtemp(path.join(tmpdir(), 'tbuild-bench-from-pull-'));
const registry = await startRegistry();
try {
  if (!commandExists('skopeo')) throw new Error('needs skopeo (bash scripts/setup.sh)');
  const layout = path.join(work, 'layout');
  const tarBytes = await writeLayout(layout);
  const ref = `${registry.host}/bench/from-pull:v1`;
  run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${ref}`]);
  const context = path.join(work, 'context');
  await mkdir(context);
  await writeFile(path.join(context, 'f'), 'x');
  await writeFile(path.join(context, 'Dockerfile'), `FROM ${ref}\nCOPY f /f\n`);
  console.log(`image: ${String(DIRS.length)} layers, ${(tarBytes / 2 ** 20).toFixed(0)} MB of tar`);
  const samples = new Map<string, number[]>(bins.map((bin) => [bin, []]));
  for (let round = 0; round < runs; round++) {
    for (const bin of bins) {
      const root = await mkdtemp(path.join(work, 'root-'));
      const started = performance.now();
      const result = spawnSync(process.execPath, [bin, 'build', '--progress=plain', context], {
        env: { ...process.env, TBUILD_ROOT: root },
        encoding: 'utf8',
      });
      const ms = performance.now() - started;
      if (result.status !== 0) throw new Error(`${bin}: ${result.stderr.slice(-2000)}`);
      samples.get(bin)?.push(ms);
      await rm(root, { recursive: true, force: true });
    }
  }
  for (const [bin, values] of samples) {
    const ms = median(values);
    console.log(
      `${bin}: ${formatMs(ms)} (${(tarBytes / 2 ** 20 / (ms / 1000)).toFixed(0)} MB/s of tar)`,
    );
  }
} finally {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
}
