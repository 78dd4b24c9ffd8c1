import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
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
 * What a build says when its base image cannot be pulled: not in the registry, refused,
 * registry unreachable; and a `COPY --from` typo of a stage name, which is first tried as
 * an image. Each fails with exit 1, a message naming the image or host, a hint, and no
 * stack trace.
 */
let plain: TestRegistry | undefined;
let guarded: TestRegistry | undefined;
let work = '';
let root = '';

function needs(ctx: TestContext): { plain: TestRegistry; guarded: TestRegistry } {
  requires(ctx, 'root', 'overlay', 'busybox', 'docker-registry');
  if (plain === undefined || guarded === undefined) throw new Error('registries did not start');
  return { plain, guarded };
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  plain = await startRegistry();
  guarded = await startRegistry({ auth: { kind: 'htpasswd', users: { owner: 'Secret-0wner' } } });
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-registry-errors-'));
  root = await rootWithBusybox();
}, 120_000);

afterAll(async () => {
  await plain?.stop();
  await guarded?.stop();
  for (const dir of [work, root]) if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function tbuild(args: string[]): Promise<CliResult> {
  const result = await runTbuildAsync(args, {
    root,
    env: { DOCKER_CONFIG: join(work, 'docker-config') },
  });
  expect(result.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
  return result;
}

async function build(name: string, dockerfile: string): Promise<CliResult> {
  const dir = await writeContext(join(work, name), { Dockerfile: dockerfile });
  return tbuild(['build', '--progress=plain', dir]);
}

/** A loopback port nothing listens on: taken from the kernel, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('pull errors in builds', () => {
  it('an image the registry does not have is "not found", naming the reference', async (ctx) => {
    const { plain: registry } = needs(ctx);
    const missingRepo = await build('missing-repo', `FROM ${registry.host}/nope/missing:v1\n`);
    expect(missingRepo.code).toBe(1);
    expect(missingRepo.stderr).toContain(
      `ERROR: image ${registry.host}/nope/missing:v1 not found: registry ${registry.host} has no such repository or tag`,
    );
    expect(missingRepo.stderr).toContain('hint: check the image name and tag');

    // A repository that exists, with a tag it lacks.
    const pushed = await tbuild(['push', '-q', 'busybox', `${registry.host}/e2e/present:v1`]);
    expect(pushed.code, pushed.stderr).toBe(0);
    const missingTag = await build('missing-tag', `FROM ${registry.host}/e2e/present:v2\n`);
    expect(missingTag.code).toBe(1);
    expect(missingTag.stderr).toContain(`ERROR: image ${registry.host}/e2e/present:v2 not found`);
    expect(missingTag.stderr).toContain('MANIFEST_UNKNOWN');

    // tbuild pull says the same.
    const pull = await tbuild(['pull', `${registry.host}/nope/missing:v1`]);
    expect(pull.code).toBe(1);
    expect(pull.stderr).toContain(`ERROR: image ${registry.host}/nope/missing:v1 not found`);
  }, 120_000);

  it('a refused image hints at tbuild login for its registry', async (ctx) => {
    const { guarded: registry } = needs(ctx);
    const refused = await build('refused', `FROM ${registry.host}/private/app:v1\n`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`ERROR: pulling ${registry.host}/private/app:v1:`);
    expect(refused.stderr).toContain(`hint: run "tbuild login ${registry.host}"`);
  }, 120_000);

  it('an unreachable registry is named', async (ctx) => {
    needs(ctx);
    const host = `127.0.0.1:${String(await closedPort())}`;
    const unreachable = await build('unreachable', `FROM ${host}/some/image:v1\n`);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(
      `ERROR: pulling ${host}/some/image:v1: cannot reach registry ${host}`,
    );
    expect(unreachable.stderr).toContain(`hint: check that registry ${host} is running`);
  }, 120_000);

  it('a COPY --from typo of a stage suggests the stage, though it was tried as an image', async (ctx) => {
    needs(ctx);
    // `buidler` is tried as docker.io/library/buidler: unreachable or refused, either way
    // the stage it was meant to be comes first in the hint.
    const typo = await build(
      'typo',
      'FROM busybox AS builder\nRUN echo built > /out.txt\nFROM busybox\nCOPY --from=buidler /out.txt /out.txt\n',
    );
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('docker.io');
    expect(typo.stderr).toContain(' 4 | >>> COPY --from=buidler /out.txt /out.txt');
    expect(typo.stderr).toContain('hint: did you mean stage "builder"?');
  }, 120_000);
});
