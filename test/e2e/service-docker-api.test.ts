import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  requires,
  rootWithBusybox,
  startRegistry,
  startTbuildService,
  type TestService,
  tarOfFiles,
} from '../harness/index.js';

/**
 * The Docker Engine API subset of `tbuild serve`, driven by real clients:
 * Debian's docker CLI (classic builder, DOCKER_BUILDKIT=0; no dockerd runs)
 * and python3-docker's APIClient. Pushes go to Debian's docker-registry and
 * are checked with skopeo.
 */

const run = promisify(execFile);
/** Debian's client by path: another `docker` earlier on PATH may want a buildx plugin. */
const DOCKER = '/usr/bin/docker';
const PASSWORD = 'docker-api-secret';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let root = '';
let work = '';

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  root = await rootWithBusybox();
  work = await mkdtemp(join(tmpdir(), 'tbuild-docker-api-'));
});

afterAll(async () => {
  for (const dir of [root, work]) if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** Runs the docker CLI against the service, with its own empty config dir unless given one. */
async function docker(
  service: TestService,
  args: readonly string[],
  options: { readonly configDir?: string; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  const configDir = options.configDir ?? join(work, 'docker-config-empty');
  await mkdir(configDir, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_BUILDKIT: '0', ...options.env };
  delete env['DOCKER_HOST'];
  delete env['DOCKER_CONTEXT'];
  try {
    const { stdout, stderr } = await run(
      DOCKER,
      ['--config', configDir, '-H', service.tcp, ...args],
      { env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? '',
    };
  }
}

async function contextDir(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
  return dir;
}

interface ImageSummary {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Size: number;
  Labels: Record<string, string> | null;
}

async function images(service: TestService): Promise<ImageSummary[]> {
  const response = await fetch(`${service.url}/v1.41/images/json`);
  expect(response.status).toBe(200);
  return (await response.json()) as ImageSummary[];
}

function imageTagged(list: readonly ImageSummary[], tag: string): ImageSummary | undefined {
  return list.find((image) => image.RepoTags.includes(tag));
}

async function skopeoRaw(ref: string, creds?: string): Promise<string> {
  const { stdout } = await run('skopeo', [
    'inspect',
    '--raw',
    '--tls-verify=false',
    ...(creds === undefined ? [] : ['--creds', creds]),
    `docker://${ref}`,
  ]);
  return stdout;
}

describe('tbuild serve: the Docker Engine API', () => {
  it('serves the docker CLI: version negotiation, build, images, tag, push, a failing build, prune and what it does not serve', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox', 'docker-cli', 'docker-registry', 'skopeo');
    const service = await startTbuildService({ root });
    const registry = await startRegistry();
    try {
      // Negotiation: the client learns 1.41 from /_ping and speaks /v1.41/...
      const version = await docker(service, [
        'version',
        '--format',
        '{{.Server.APIVersion}} {{.Client.APIVersion}}',
      ]);
      expect(version.stderr).toBe('');
      expect(version.stdout.trim()).toBe('1.41 1.41');
      // A client pinned to an older version is answered at that version.
      const pinned = await docker(service, ['version', '--format', '{{.Server.Version}}'], {
        env: { DOCKER_API_VERSION: '1.40' },
      });
      expect(pinned.code).toBe(0);
      const tooNew = await fetch(`${service.url}/v1.99/version`);
      expect(tooNew.status).toBe(400);
      expect(await tooNew.json()).toEqual({
        message: expect.stringMatching(/^client version 1\.99 is too new/) as unknown,
      });

      const dir = await contextDir('app', {
        Dockerfile:
          'FROM busybox\nARG GREETING=unset\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt && echo "greeting=$GREETING" > /greeting\n',
        'hello.txt': 'hello from the docker CLI\n',
      });
      const built = await docker(service, [
        'build',
        '-t',
        'e2e/app:1',
        '--build-arg',
        'GREETING=hi',
        '--label',
        'team=ci',
        dir,
      ]);
      expect(built.stderr).toBe('');
      expect(built.code).toBe(0);
      expect(built.stdout).toContain('hello from the docker CLI');
      expect(built.stdout).toMatch(/^Successfully built [0-9a-f]{12}$/m);
      expect(built.stdout).toMatch(/^Successfully tagged e2e\/app:1$/m);

      const listed = imageTagged(await images(service), 'e2e/app:1');
      expect(listed?.Id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(listed?.Labels).toMatchObject({ team: 'ci' });
      const shortId = listed?.Id.slice(7, 19) ?? '';
      expect(built.stdout).toContain(`Successfully built ${shortId}`);
      const shown = await docker(service, [
        'images',
        '--format',
        '{{.Repository}}:{{.Tag}} {{.ID}}',
      ]);
      expect(shown.stdout.split('\n')).toContain(`e2e/app:1 ${shortId}`);
      const inspected = await docker(service, [
        'image',
        'inspect',
        '--format',
        '{{.Id}} {{index .RepoTags 0}} {{.Os}}/{{.Architecture}} {{index .Config.Labels "team"}}',
        'e2e/app:1',
      ]);
      expect(inspected.stdout.trim()).toBe(`${listed?.Id ?? ''} e2e/app:1 linux/amd64 ci`);
      const missing = await docker(service, ['image', 'inspect', 'e2e/missing:1']);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/No such image: e2e\/missing:1/);

      // Tag, then push to the registry; skopeo reads back what was pushed.
      const target = `${registry.host}/e2e/app:v1`;
      const tagged = await docker(service, ['tag', 'e2e/app:1', target]);
      expect(tagged.stderr).toBe('');
      expect(imageTagged(await images(service), target)?.Id).toBe(listed?.Id);
      const pushed = await docker(service, ['push', target]);
      expect(pushed.stderr).toBe('');
      expect(pushed.code).toBe(0);
      expect(pushed.stdout).toContain(`The push refers to repository [${registry.host}/e2e/app]`);
      const digest = /v1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushed.stdout)?.[1];
      expect(digest).toBeDefined();
      const raw = await skopeoRaw(target);
      expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(digest);
      expect((JSON.parse(raw) as { config: { digest: string } }).config.digest).toBe(listed?.Id);

      // A failing build: a non-zero exit and the step's error on the client.
      const bad = await contextDir('bad', {
        Dockerfile: 'FROM busybox\nRUN echo failing-step && exit 3\n',
      });
      const failed = await docker(service, ['build', '-t', 'e2e/bad', bad]);
      expect(failed.code).not.toBe(0);
      expect(failed.stdout).toContain('failing-step');
      expect(failed.stderr).toMatch(/did not complete successfully: exit code: 3/);
      expect(imageTagged(await images(service), 'e2e/bad:latest')).toBeUndefined();

      const pruned = await docker(service, ['builder', 'prune', '--force']);
      expect(pruned.code).toBe(0);
      expect(pruned.stdout).toMatch(/Total reclaimed space/);

      // Outside the subset: a Docker-style error naming what is not served.
      const ran = await docker(service, ['run', '--rm', 'busybox', 'true']);
      expect(ran.code).not.toBe(0);
      expect(ran.stderr).toMatch(/tbuild does not serve POST \/v1\.41\/containers\/create/);
      for (const path of ['/v1.41/containers/json', '/containers/json', '/v1.41/info']) {
        const answer = await fetch(`${service.url}${path}`);
        expect(answer.status).toBe(501);
        expect(answer.headers.get('content-type')).toBe('application/json');
        const body = (await answer.json()) as Record<string, unknown>;
        expect(Object.keys(body)).toEqual(['message']);
        expect(body['message']).toContain(`tbuild does not serve GET ${path}`);
      }
      const session = await fetch(`${service.url}/session`, { method: 'POST' });
      expect(((await session.json()) as { message: string }).message).toContain(
        'DOCKER_BUILDKIT=0',
      );
    } finally {
      await registry.stop();
      expect(await service.stop()).toBe(0);
    }
  });

  it('logs in through the service and pushes with the credentials the client sends in X-Registry-Auth', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox', 'docker-cli', 'docker-registry', 'skopeo');
    const service = await startTbuildService({ root });
    const guarded = await startRegistry({
      auth: { kind: 'htpasswd', users: { tester: PASSWORD } },
    });
    try {
      const dir = await contextDir('private', {
        Dockerfile: 'FROM busybox\nRUN echo private > /p\n',
      });
      const target = `${guarded.host}/team/private:1`;
      expect((await docker(service, ['build', '-t', target, dir])).code).toBe(0);

      // No credentials on the client (nor on the service): the registry refuses.
      const refused = await docker(service, ['push', target]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).not.toBe('');

      // docker login asks the service (POST /auth), which checks them with the registry;
      // the client keeps them in its config.json and sends them with the push.
      const configDir = join(work, 'docker-config-creds');
      const wrong = await docker(
        service,
        ['login', '-u', 'tester', '-p', 'not-the-password', guarded.host],
        { configDir },
      );
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toMatch(/Error response from daemon/);
      const login = await docker(service, ['login', '-u', 'tester', '-p', PASSWORD, guarded.host], {
        configDir,
      });
      expect(login.code).toBe(0);
      expect(login.stdout).toContain('Login Succeeded');
      expect(await readFile(join(configDir, 'config.json'), 'utf8')).toContain(guarded.host);
      const auth = Buffer.from(`tester:${PASSWORD}`).toString('base64');
      const pushed = await docker(service, ['push', target], { configDir });
      expect(pushed.stderr).toBe('');
      expect(pushed.code).toBe(0);
      const digest = /1: digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
      const raw = await skopeoRaw(target, `tester:${PASSWORD}`);
      expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(digest);
      expect(service.stderr()).not.toContain(PASSWORD);
      expect(service.stderr()).not.toContain(auth);
    } finally {
      await guarded.stop();
      await service.stop();
    }
  });

  it('streams a build to python3-docker: the stream messages, then the aux ID; a failure as errorDetail', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox', 'python3-docker');
    const service = await startTbuildService({ root });
    try {
      const dir = await contextDir('python', {
        Dockerfile: 'FROM busybox\nRUN echo built-for-python > /p && cat /p\n',
      });
      const bad = await contextDir('python-bad', { Dockerfile: 'FROM busybox\nRUN exit 7\n' });
      const script = [
        'import docker, json, sys',
        `client = docker.APIClient(base_url=${JSON.stringify(service.tcp)})`,
        'out = {"version": client.version()["ApiVersion"]}',
        'out["ok"] = list(client.build(path=sys.argv[1], tag="py/app:1", decode=True, nocache=True))',
        'out["inspected"] = client.inspect_image("py/app:1")["Id"]',
        'out["bad"] = list(client.build(path=sys.argv[2], tag="py/bad:1", decode=True))',
        'print(json.dumps(out))',
      ].join('\n');
      const { stdout } = await run('python3', ['-c', script, dir, bad], { timeout: 180_000 });
      type Chunk = {
        stream?: string;
        aux?: { ID?: string };
        error?: string;
        errorDetail?: { message: string };
      };
      const out = JSON.parse(stdout) as {
        version: string;
        ok: Chunk[];
        inspected: string;
        bad: Chunk[];
      };
      expect(out.version).toBe('1.41');
      const text = out.ok.map((chunk) => chunk.stream ?? '').join('');
      expect(text).toContain('built-for-python');
      expect(text).toMatch(/RUN echo built-for-python/);
      const aux = out.ok.filter((chunk) => chunk.aux !== undefined);
      expect(aux).toHaveLength(1);
      const id = aux[0]?.aux?.ID;
      expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(imageTagged(await images(service), 'py/app:1')?.Id).toBe(id);
      expect(out.inspected).toBe(id);
      expect(out.ok.some((chunk) => chunk.error !== undefined)).toBe(false);

      const last = out.bad.at(-1);
      expect(last?.errorDetail?.message).toMatch(/exit code: 7/);
      expect(last?.error).toBe(last?.errorDetail?.message);
      expect(out.bad.some((chunk) => chunk.aux !== undefined)).toBe(false);
    } finally {
      await service.stop();
    }
  });

  it('cancels the build when the client hangs up, as Docker does', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const service = await startTbuildService({ root });
    try {
      const context = await tarOfFiles({
        Dockerfile: 'FROM busybox\nRUN echo sleeper-started && sleep 300\n',
      });
      const port = Number(new URL(service.url).port);
      // Reads the stream until the RUN has started, then closes the connection.
      await new Promise<void>((resolve, reject) => {
        const request = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/v1.41/build?t=e2e/sleeper&nocache=1',
            headers: { 'content-type': 'application/x-tar' },
          },
          (response) => {
            let seen = '';
            response.on('data', (chunk: Buffer) => {
              seen += chunk.toString('utf8');
              if (seen.includes('sleeper-started\\n')) {
                request.destroy();
                resolve();
              }
            });
            response.on('end', () => {
              reject(new Error(`the stream ended before the RUN started:\n${seen}`));
            });
          },
        );
        request.on('error', (error) => {
          if (!request.destroyed) reject(error);
        });
        request.end(context);
      });
      const status = await waitFor(async () => {
        const answer = (await (await fetch(`${service.url}/v1/builds?limit=1`)).json()) as {
          builds: { status: string; options: Record<string, unknown> }[];
        };
        const build = answer.builds[0];
        return build !== undefined && build.status !== 'running' && build.status !== 'queued'
          ? build
          : undefined;
      });
      expect(status.options).toMatchObject({ tag: ['e2e/sleeper'] });
      expect(status.status).toBe('cancelled');
    } finally {
      await service.stop();
    }
  });

  it('asks Docker clients for the bearer token in Docker style, and takes it from HttpHeaders', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox', 'docker-cli');
    const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
    const config = join(work, 'docker-tokens.json');
    await writeFile(
      config,
      JSON.stringify({
        tokens: [
          { name: 'ci', sha256: sha('docker-ci-token'), scopes: ['read', 'build'] },
          { name: 'viewer', sha256: sha('docker-read-token'), scopes: ['read'] },
        ],
      }),
    );
    const service = await startTbuildService({ root, args: ['--config', config] });
    try {
      const withToken = async (token: string): Promise<string> => {
        const dir = join(work, `docker-config-${token}`);
        await mkdir(dir, { recursive: true });
        await writeFile(
          join(dir, 'config.json'),
          JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${token}` } }),
        );
        return dir;
      };
      const dir = await contextDir('tokens', { Dockerfile: 'FROM busybox\nRUN true\n' });
      const anonymous = await docker(service, ['build', '-t', 'e2e/tokens', dir]);
      expect(anonymous.code).not.toBe(0);
      expect(anonymous.stderr).toMatch(/this service needs a bearer token/);
      const viewer = await docker(service, ['build', '-t', 'e2e/tokens', dir], {
        configDir: await withToken('docker-read-token'),
      });
      expect(viewer.code).not.toBe(0);
      expect(viewer.stderr).toMatch(/lacks the "build" scope/);
      const ci = await docker(service, ['build', '-t', 'e2e/tokens', dir], {
        configDir: await withToken('docker-ci-token'),
      });
      expect(ci.stderr).toBe('');
      expect(ci.code).toBe(0);
      expect((await fetch(`${service.url}/_ping`)).status).toBe(200);
    } finally {
      await service.stop();
    }
  });
});

async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('timed out waiting for the build to end');
}
