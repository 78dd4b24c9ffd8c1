import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  requires,
  rootWithBusybox,
  runTbuildAsync,
  startRegistry,
  writeContext,
  type CliResult,
  type TestRegistry,
} from '../harness/index.js';

/**
 * The end of a build as buildx shows it: each output is a step with its time,
 * and its sub-tasks (`exporting layers`, `writing image`, `naming to`, `pushing
 * layers`, `pushing manifest for`, `sending tarball`) are lines with `done`.
 */
let root = '';
let work = '';
let registry: TestRegistry | undefined;

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  root = await rootWithBusybox();
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-export-progress-'));
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  for (const dir of [root, work]) if (dir !== '') await rm(dir, { recursive: true, force: true });
});

function needs(ctx: TestContext): void {
  requires(ctx, 'root', 'overlay', 'busybox');
}

async function build(args: readonly string[], name: string): Promise<CliResult> {
  const dir = await writeContext(join(work, name), {
    Dockerfile: `FROM busybox\nRUN echo ${name} > /made.txt\n`,
  });
  const result = await runTbuildAsync(['build', '--progress=plain', ...args, dir], { root });
  expect(result.code, result.stderr).toBe(0);
  return result;
}

/** The lines of the step named `name` (`#N …` with its number), without the prefix. */
function stepLines(stderr: string, name: string): string[] {
  const number = new RegExp(`^#(\\d+) ${name}$`, 'm').exec(stderr)?.[1];
  expect(number, `no step "${name}" in:\n${stderr}`).toBeDefined();
  const prefix = `#${number ?? ''} `;
  return stderr
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .map((line) => line.slice(prefix.length));
}

const DIGEST = 'sha256:[0-9a-f]{64}';
const TIME = '\\d+\\.\\ds';

/** A finished sub-task line: its text (a regular expression), its time when it took any, `done`. */
function finished(text: string): unknown {
  return expect.stringMatching(new RegExp(`^${text}( ${TIME})? done$`));
}

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function metadata(file: string): Promise<Record<string, string>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
}

describe('export steps in plain progress', () => {
  it('-t: exporting to image, its layers, the image ID and each name', async (ctx) => {
    needs(ctx);
    const metadataFile = join(work, 'tagged.json');
    const result = await build(
      ['--metadata-file', metadataFile, '-t', 'e2e/app:one', '-t', 'e2e/app:two'],
      'tagged',
    );
    // The image ID shown is the config digest, as docker's.
    const imageId = (await metadata(metadataFile))['containerimage.config.digest'] ?? '';
    expect(stepLines(result.stderr, 'exporting to image')).toEqual([
      'exporting to image',
      'exporting layers',
      finished('exporting layers'),
      `writing image ${imageId}`,
      finished(`writing image ${imageId}`),
      'naming to docker.io/e2e/app:one',
      finished(escaped('naming to docker.io/e2e/app:one')),
      'naming to docker.io/e2e/app:two',
      finished(escaped('naming to docker.io/e2e/app:two')),
      expect.stringMatching(new RegExp(`^DONE ${TIME}$`)),
    ]);
  });

  it('-o type=oci: exporting to oci image format, its manifest and config, sending tarball', async (ctx) => {
    needs(ctx);
    const result = await build(['-o', `type=oci,dest=${join(work, 'image.tar')}`], 'oci');
    const lines = stepLines(result.stderr, 'exporting to oci image format').filter(
      (line) => line.endsWith(' done') || line.startsWith('DONE'),
    );
    expect(lines).toEqual([
      finished('exporting layers'),
      finished(`exporting manifest ${DIGEST}`),
      finished(`exporting config ${DIGEST}`),
      finished('sending tarball'),
      expect.stringMatching(new RegExp(`^DONE ${TIME}$`)),
    ]);
  });

  it('--push: pushing layers, then the manifest by its digest', async (ctx) => {
    needs(ctx);
    requires(ctx, 'docker-registry');
    registry ??= await startRegistry();
    const name = `${registry.host}/e2e/pushed:v1`;
    const metadataFile = join(work, 'pushed.json');
    const result = await build(['--metadata-file', metadataFile, '--push', '-t', name], 'pushed');
    const digest = (await metadata(metadataFile))['containerimage.digest'] ?? '';
    expect(digest).toMatch(new RegExp(`^${DIGEST}$`));
    const lines = stepLines(result.stderr, 'exporting to image').filter(
      (line) => line.endsWith(' done') || line.startsWith('DONE'),
    );
    expect(lines).toEqual([
      finished('exporting layers'),
      finished(`writing image ${DIGEST}`),
      finished(escaped(`naming to ${name}`)),
      finished('pushing layers'),
      finished(escaped(`pushing manifest for ${name}@${digest}`)),
      expect.stringMatching(new RegExp(`^DONE ${TIME}$`)),
    ]);
  });

  it('rawjson: the export step is a vertex with started and completed times', async (ctx) => {
    needs(ctx);
    const dir = await writeContext(join(work, 'rawjson'), {
      Dockerfile: 'FROM busybox\nRUN echo rawjson > /made.txt\n',
    });
    const result = await runTbuildAsync(['build', '--progress=rawjson', '-t', 'e2e/raw:1', dir], {
      root,
    });
    expect(result.code, result.stderr).toBe(0);
    const statuses = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map(
        (line) =>
          JSON.parse(line) as {
            vertexes?: { digest: string; name: string; started?: string; completed?: string }[];
            statuses?: { id: string; vertex: string; completed?: string }[];
          },
      );
    const vertexes = statuses.flatMap((status) => status.vertexes ?? []);
    const done = vertexes.find(
      (vertex) => vertex.name === 'exporting to image' && vertex.completed !== undefined,
    );
    expect(done?.started).toBeDefined();
    const tasks = statuses
      .flatMap((status) => status.statuses ?? [])
      .filter((status) => status.vertex === done?.digest && status.completed !== undefined)
      .map((status) => status.id);
    expect(tasks).toEqual([
      'exporting layers',
      expect.stringMatching(new RegExp(`^writing image ${DIGEST}$`)),
      'naming to docker.io/e2e/raw:1',
    ]);
  });
});
