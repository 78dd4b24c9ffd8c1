import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  missingRequirements,
  requires,
  rootWithBusybox,
  runTbuildAsync,
  startDockerd,
  writeContext,
  type CliResult,
  type TestDockerd,
} from '../harness/index.js';

/**
 * `--load` and `-o type=docker` without dest load the image into a real dockerd
 * (Debian's docker.io, started on a private socket) through its API, and the
 * image runs there. Without a daemon the error names the address tried.
 */
let root = '';
let work = '';
let dockerd: TestDockerd | undefined;

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  root = await rootWithBusybox();
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-load-'));
  if (missingRequirements(['dockerd', 'docker-cli']).length === 0) dockerd = await startDockerd();
}, 120_000);

afterAll(async () => {
  await dockerd?.stop();
  for (const dir of [root, work]) if (dir !== '') await rm(dir, { recursive: true, force: true });
}, 60_000);

function needsDockerd(ctx: TestContext): TestDockerd {
  requires(ctx, 'root', 'overlay', 'busybox', 'dockerd', 'docker-cli');
  if (dockerd === undefined) throw new Error('dockerd did not start');
  return dockerd;
}

/** Debian's client by its path: another `docker` on PATH may want a buildx plugin. */
function docker(daemon: TestDockerd, args: readonly string[]): string {
  return execFileSync('/usr/bin/docker', ['-H', daemon.host, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
}

async function build(
  name: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<CliResult> {
  const dir = await writeContext(join(work, name), {
    Dockerfile: `FROM busybox\nRUN echo loaded ${name} > /made.txt\nCMD ["cat", "/made.txt"]\n`,
  });
  return runTbuildAsync(['build', '--progress=plain', ...args, dir], { root, env });
}

describe('--load into a Docker daemon', () => {
  it('--load -t: the image is in dockerd under its name, with the same image ID, and runs there', async (ctx) => {
    const daemon = needsDockerd(ctx);
    const metadataFile = join(work, 'load.json');
    const result = await build(
      'flag',
      ['--load', '-t', 'e2e/loaded:1', '--metadata-file', metadataFile],
      { DOCKER_HOST: daemon.host },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^#\d+ exporting to docker image format$/m);
    expect(result.stderr).toMatch(/^#\d+ sending tarball( \d+\.\ds)? done$/m);
    const metadata = JSON.parse(await readFile(metadataFile, 'utf8')) as Record<string, string>;
    const id = docker(daemon, ['image', 'inspect', '--format', '{{.Id}}', 'e2e/loaded:1']).trim();
    expect(id).toBe(metadata['containerimage.config.digest']);
    const output = docker(daemon, ['run', '--rm', '--network', 'none', 'e2e/loaded:1']);
    expect(output).toBe('loaded flag\n');
  });

  it('-o type=docker without dest loads too, under -o name=', async (ctx) => {
    const daemon = needsDockerd(ctx);
    const result = await build('output', ['-o', 'type=docker,name=e2e/loaded:output'], {
      DOCKER_HOST: daemon.host,
    });
    expect(result.code, result.stderr).toBe(0);
    const output = docker(daemon, [
      'run',
      '--rm',
      '--network',
      'none',
      'e2e/loaded:output',
      'cat',
      '/made.txt',
    ]);
    expect(output).toBe('loaded output\n');
  });
});

describe('--load without a daemon', () => {
  it('fails with TB_DOCKER_UNAVAILABLE naming the address', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const host = `unix://${join(work, 'no-such-docker.sock')}`;
    const result = await build('missing', ['--load', '-t', 'e2e/nowhere:1'], {
      DOCKER_HOST: host,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('TB_DOCKER_UNAVAILABLE');
    expect(result.stderr).toContain(`no Docker daemon answers at ${host}`);
    expect(result.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
  });
});
