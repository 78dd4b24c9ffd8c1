/**
 * Real overlay round trips: lower tree → overlay mount → changes in the merged view →
 * upperdir → layer tar → applied into a fresh directory, which must equal the upperdir,
 * and stacked on the lower must give the same merged view as the original.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError, neverAborted } from '../../../core/index.js';
import { applyLayerTar, upperDirToTar } from '../../../worker/index.js';
import { requires } from '../../harness/index.js';
import { T, buildLower, change } from './fixtures.js';
import { collect, listTree, mountOverlay, unmount } from './tree.js';

let base: string;
const mounted: string[] = [];

beforeEach(() => {
  base = mkdtempSync('/var/tmp/tbuild-layers-');
});

afterEach(() => {
  for (const target of mounted.splice(0).reverse()) unmount(target);
  rmSync(base, { recursive: true, force: true });
});

function mount(target: string, lowers: string[], upper?: { upper: string; work: string }): void {
  mountOverlay(target, lowers, upper);
  mounted.push(target);
}

function umountLast(): void {
  const target = mounted.pop();
  if (target !== undefined) unmount(target);
}

async function roundTrip(
  dirs: Record<'lower' | 'upper' | 'work' | 'merged', string>,
): Promise<Buffer> {
  buildLower(dirs.lower);
  mount(dirs.merged, [dirs.lower], { upper: dirs.upper, work: dirs.work });
  change(dirs.merged);
  umountLast();
  return collect(upperDirToTar(dirs.upper, { signal: neverAborted }));
}

function layout(): Record<'lower' | 'upper' | 'work' | 'merged' | 'applied', string> {
  const dirs = {
    lower: `${base}/lower`,
    upper: `${base}/upper`,
    work: `${base}/work`,
    merged: `${base}/merged`,
    applied: `${base}/applied`,
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir);
  return dirs;
}

describe('layer round trip through a real overlay', () => {
  it('applies to exactly the upper directory, and merges to the same view', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const dirs = layout();
    const tar = await roundTrip(dirs);
    const result = await applyLayerTar(Readable.from([tar]), dirs.applied, {
      signal: neverAborted,
    });
    expect(result.entries).toBeGreaterThan(30);

    const expected = listTree(dirs.upper, { mtimeSeconds: true, skipWhiteoutTimes: true });
    const applied = listTree(dirs.applied, { mtimeSeconds: true, skipWhiteoutTimes: true });
    expect(applied).toEqual(expected);
    // The listing really covers what the test is about.
    const text = expected.join('\n');
    expect(text).toMatch(/^etc\/old \| char \| 0 \| 0:0 \| - \| - \| - \| 0,0 /m);
    expect(text).toMatch(/^var\/cache \| char /m);
    expect(text).toMatch(/^opt\/app \| dir \| .* \| opaque \|/m);
    expect(text).toMatch(/^bin\/su \| file \| 4755 /m);
    expect(text).toMatch(/^bin\/ping \| .*security\.capability=0100000280200000/m);
    expect(text).toMatch(/^hl\/c \| .* => hl\/a$/m);
    expect(text).toMatch(/^dev\/loop0 \| block \| 640 \| 0:0 \| - \| - \| - \| 7,0 /m);
    expect(text).toMatch(/^new\.txt \| .* \| 1600000007 \| $/m);

    mount(`${base}/view-original`, [dirs.upper, dirs.lower]);
    mount(`${base}/view-applied`, [dirs.applied, dirs.lower]);
    const original = listTree(`${base}/view-original`, { mtimeSeconds: true });
    expect(listTree(`${base}/view-applied`, { mtimeSeconds: true })).toEqual(original);
    expect(original.join('\n')).not.toMatch(/etc\/old|var\/cache|old\.so|README/);
    expect(original.join('\n')).toMatch(/^keep\/untouched \| file /m);
  });

  it('is listed by GNU tar with whiteouts, the opaque marker, links and the capability', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const dirs = layout();
    const tar = await roundTrip(dirs);
    writeFileSync(`${base}/layer.tar`, tar);
    const listing = execFileSync(
      'tar',
      ['--xattrs', '--xattrs-include=*', '-tvvf', `${base}/layer.tar`],
      {
        encoding: 'utf8',
        env: { ...process.env, LC_ALL: 'C.UTF-8' },
      },
    );
    expect(listing).toMatch(/ etc\/\.wh\.old\n/);
    expect(listing).toMatch(/ var\/\.wh\.cache\n/);
    expect(listing).toMatch(/ opt\/app\/\n.* opt\/app\/\.wh\.\.wh\.\.opq\n.* opt\/app\/fresh\n/);
    expect(listing).toMatch(/ hl\/b link to hl\/a\n/);
    expect(listing).toMatch(/-rwxr-xr-x\* .* bin\/ping\n +x: 20 security\.capability\n/);
    expect(listing).not.toMatch(/trusted\.overlay/);
  });

  it('gives byte-identical tars for the same tree, and clamps mtimes to SOURCE_DATE_EPOCH', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const dirs = layout();
    const first = await roundTrip(dirs);
    const again = await collect(upperDirToTar(dirs.upper, { signal: neverAborted }));
    expect(again.equals(first)).toBe(true);

    // A copy made by GNU tar (other inode numbers, other creation order) gives the same bytes.
    const copy = `${base}/copy`;
    mkdirSync(copy);
    execFileSync('sh', [
      '-c',
      `tar --xattrs --xattrs-include='*' -C ${dirs.upper} -cf - . | tar --xattrs --xattrs-include='*' -C ${copy} -xpf -`,
    ]);
    execFileSync('sh', [
      '-c',
      `cd ${dirs.upper} && find . -depth -exec touch -h -r {} ${copy}/{} \\;`,
    ]);
    const copied = await collect(upperDirToTar(copy, { signal: neverAborted }));
    expect(copied.equals(first)).toBe(true);

    const epoch = T + 3;
    const clamped = await collect(
      upperDirToTar(dirs.upper, { signal: neverAborted, sourceDateEpoch: epoch }),
    );
    const applied = `${base}/clamped`;
    mkdirSync(applied);
    await applyLayerTar(Readable.from([clamped]), applied, { signal: neverAborted });
    const mtimes = listTree(applied).map((line) => line.split(' | ')[9] ?? '');
    expect(mtimes.filter((mtime) => BigInt(mtime) > BigInt(epoch) * 1_000_000_000n)).toEqual([]);
    expect(mtimes).toContain(`${String(epoch)}000000000`);
  });

  it('keeps sub-second mtimes with timestampPrecision nanosecond (to Node lutimes precision)', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const dirs = layout();
    await roundTrip(dirs);
    const tar = await collect(
      upperDirToTar(dirs.upper, { signal: neverAborted, timestampPrecision: 'nanosecond' }),
    );
    await applyLayerTar(Readable.from([tar]), dirs.applied, { signal: neverAborted });
    const split = (lines: string[]): [string[], bigint[]] => [
      lines.map((line) =>
        line
          .split(' | ')
          .filter((_, column) => column !== 9)
          .join(' | '),
      ),
      lines.map((line) => BigInt((line.split(' | ')[9] ?? '0').replace('-', '0'))),
    ];
    const [expected, expectedTimes] = split(listTree(dirs.upper, { skipWhiteoutTimes: true }));
    const [applied, appliedTimes] = split(listTree(dirs.applied, { skipWhiteoutTimes: true }));
    expect(applied).toEqual(expected);
    expect(expectedTimes.some((ns) => ns % 1_000_000_000n !== 0n)).toBe(true);
    // libuv truncates utimes to whole microseconds, after the time went through a double
    // of seconds (~240 ns apart at today's dates): up to ~1.25 µs off, never 2.
    appliedTimes.forEach((ns, index) => {
      const delta = ns - (expectedTimes[index] ?? 0n);
      expect(
        delta < 2000n && delta > -2000n,
        `line ${String(index)} (${expected[index] ?? ''}) is ${String(delta)} ns off`,
      ).toBe(true);
    });
  });

  it('stops when the signal is aborted', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const dirs = layout();
    const tar = await roundTrip(dirs);
    const controller = new AbortController();
    controller.abort();
    const error = await applyLayerTar(Readable.from([tar]), dirs.applied, {
      signal: controller.signal,
    }).catch((caught: unknown) => caught);
    expect(isTbuildError(error, 'TB_CANCELED')).toBe(true);
    const stream = upperDirToTar(dirs.upper, { signal: controller.signal });
    expect(
      isTbuildError(await collect(stream).catch((caught: unknown) => caught), 'TB_CANCELED'),
    ).toBe(true);
  });

  it('unpacks with umoci, stacked on the lower layer, to the same merged view', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'umoci');
    const dirs = layout();
    const upperTar = await roundTrip(dirs);
    const lowerTar = await collect(upperDirToTar(dirs.lower, { signal: neverAborted }));
    const image = `${base}/image`;
    writeOciLayout(image, [lowerTar, upperTar]);
    execFileSync('umoci', ['unpack', '--image', `${image}:latest`, `${base}/bundle`], {
      stdio: 'pipe',
    });
    mount(`${base}/view-original`, [dirs.upper, dirs.lower]);
    const merged = listTree(`${base}/view-original`, { mtimeSeconds: true });
    expect(listTree(`${base}/bundle/rootfs`, { mtimeSeconds: true })).toEqual(merged);
  });
});

/** A one-platform OCI image layout with uncompressed layers, for real clients to read. */
function writeOciLayout(dir: string, layers: Buffer[]): void {
  mkdirSync(`${dir}/blobs/sha256`, { recursive: true });
  const blob = (data: Buffer, mediaType: string): Record<string, unknown> => {
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(`${dir}/blobs/sha256/${hex}`, data);
    return { mediaType, digest: `sha256:${hex}`, size: data.length };
  };
  const layerDescriptors = layers.map((tar) => blob(tar, 'application/vnd.oci.image.layer.v1.tar'));
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: layerDescriptors.map((layer) => layer['digest']) },
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: blob(Buffer.from(JSON.stringify(config)), 'application/vnd.oci.image.config.v1+json'),
    layers: layerDescriptors,
  };
  const manifestDescriptor = blob(
    Buffer.from(JSON.stringify(manifest)),
    'application/vnd.oci.image.manifest.v1+json',
  );
  const index = {
    schemaVersion: 2,
    manifests: [
      { ...manifestDescriptor, annotations: { 'org.opencontainers.image.ref.name': 'latest' } },
    ],
  };
  writeFileSync(`${dir}/index.json`, JSON.stringify(index));
  writeFileSync(`${dir}/oci-layout`, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}
