import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import {
  requires,
  runTbuild,
  startRegistry,
  useBuildRoot,
  writeContext,
  type TestRegistry,
} from '../harness/index.js';

/**
 * `--annotation` and `-o …,annotation*.KEY=VALUE` through the built CLI: the
 * manifest's annotations as skopeo reads them from an OCI layout and from a
 * registry, the descriptor's in the layout's index.json, the same digest for
 * the same annotations, and the usage errors of index annotations (tbuild
 * writes no image index, as BuildKit refuses them for a single-platform export).
 */
let root = '';
let work = '';
useBuildRoot('tbuild-e2e-annotations-', (dirs) => {
  ({ root, work } = dirs);
});
let registry: TestRegistry | undefined;
afterAll(async () => {
  await registry?.stop();
});

const DOCKERFILE = 'FROM busybox\nRUN echo annotated > /a\n';
let contextDir: string | undefined;
async function context(): Promise<string> {
  contextDir ??= await writeContext(join(work, 'ctx'), { Dockerfile: DOCKERFILE });
  return contextDir;
}

function needs(ctx: TestContext): void {
  requires(ctx, 'root', 'overlay', 'busybox', 'skopeo');
}

interface Manifest {
  readonly annotations?: Record<string, string>;
}

function skopeoRaw(ref: string): string {
  return execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ref], {
    encoding: 'utf8',
  });
}

const sha256 = (text: string): string =>
  `sha256:${createHash('sha256').update(text).digest('hex')}`;

/** Builds into an OCI layout directory and returns its dir. */
async function buildLayout(name: string, flags: readonly string[]): Promise<string> {
  const dest = join(work, name);
  const result = runTbuild(
    ['build', '-q', ...flags, '-o', `type=oci,tar=false,dest=${dest}`, await context()],
    { root },
  );
  expect(result.code, result.stderr).toBe(0);
  return dest;
}

describe('annotations', () => {
  it('puts --annotation and -o annotation options on the manifest and its descriptor', async (ctx) => {
    needs(ctx);
    const dest = join(work, 'layout');
    const result = runTbuild(
      [
        'build',
        '-q',
        '--annotation',
        'org.example.plain=1',
        '--annotation',
        'manifest:org.example.typed=two',
        '--annotation',
        'manifest[linux/amd64]:org.example.platform=amd64',
        '--annotation',
        'manifest-descriptor:org.example.descriptor=d',
        '--annotation',
        'org.example.both=from-flag',
        '-o',
        `type=oci,tar=false,dest=${dest},annotation.org.example.both=from-o,annotation-manifest.org.example.output=o,annotation-manifest-descriptor.org.example.output-descriptor=od`,
        await context(),
      ],
      { root },
    );
    expect(result.code, result.stderr).toBe(0);
    const manifest = JSON.parse(skopeoRaw(`oci:${dest}`)) as Manifest;
    expect(manifest.annotations).toEqual({
      'org.example.plain': '1',
      'org.example.typed': 'two',
      'org.example.platform': 'amd64',
      'org.example.both': 'from-flag',
      'org.example.output': 'o',
    });
    const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]?.annotations).toEqual({
      'org.example.descriptor': 'd',
      'org.example.output-descriptor': 'od',
    });
    // Descriptor annotations stay out of the manifest (and so out of its digest).
    expect(manifest.annotations?.['org.example.descriptor']).toBeUndefined();
  }, 180_000);

  it('gives the same digest for the same annotations, another for other ones', async (ctx) => {
    needs(ctx);
    const digestOf = (dir: string): string => sha256(skopeoRaw(`oci:${dir}`));
    const flags = ['--annotation', 'org.example.b=2', '--annotation', 'org.example.a=1'];
    const one = digestOf(await buildLayout('same-1', flags));
    // The same annotations in another order: the manifest's keys are sorted.
    const two = digestOf(
      await buildLayout('same-2', [
        '--annotation',
        'org.example.a=1',
        '--annotation',
        'org.example.b=2',
      ]),
    );
    expect(two).toBe(one);
    const other = digestOf(await buildLayout('other', ['--annotation', 'org.example.a=9']));
    expect(other).not.toBe(one);
    const none = digestOf(await buildLayout('none', []));
    expect(none).not.toBe(one);
    expect((JSON.parse(skopeoRaw(`oci:${join(work, 'none')}`)) as Manifest).annotations).toBe(
      undefined,
    );
  }, 300_000);

  it('pushes the annotated manifest to a registry', async (ctx) => {
    needs(ctx);
    requires(ctx, 'docker-registry');
    registry = await startRegistry();
    const name = `${registry.host}/e2e/annotated:v1`;
    const result = runTbuild(
      [
        'build',
        '-q',
        '-t',
        name,
        '--push',
        '--annotation',
        'org.opencontainers.image.title=app',
        await context(),
      ],
      { root },
    );
    expect(result.code, result.stderr).toBe(0);
    const pushed = JSON.parse(skopeoRaw(`docker://${name}`)) as Manifest;
    expect(pushed.annotations).toEqual({ 'org.opencontainers.image.title': 'app' });
  }, 180_000);

  it('refuses index annotations and unknown types with exit 2', async (ctx) => {
    needs(ctx);
    for (const flags of [
      ['--annotation', 'index:org.example.a=1'],
      ['--annotation', 'index-descriptor:org.example.a=1'],
      ['-o', `type=oci,dest=${join(work, 'x.tar')},annotation-index.org.example.a=1`],
    ]) {
      const result = runTbuild(['build', ...flags, await context()], { root });
      expect(result.code, flags.join(' ')).toBe(2);
      expect(result.stderr).toContain('index annotations not supported for single platform export');
    }
    const unknown = runTbuild(['build', '--annotation', 'config:a=1', await context()], { root });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown annotation type "config"');
    const platform = runTbuild(
      ['build', '--annotation', 'manifest[linux/arm64]:a=1', await context()],
      { root },
    );
    expect(platform.code).toBe(2);
    expect(platform.stderr).toContain('no platform linux/arm64');
  }, 60_000);
});
