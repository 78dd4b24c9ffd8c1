import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  REPO_ROOT,
  requires,
  rootWithBusybox,
  runTbuildAsync,
  startFaultProxy,
  startRegistry,
  startTokenServer,
  writeContext,
  type CliResult,
  type FaultProxy,
  type TestRegistry,
  type TestTokenServer,
} from '../harness/index.js';

// Async: skopeo talks to the proxy, which this process serves.
const run = promisify(execFile);

/**
 * Token auth through whole builds, and `tbuild login` as docker login works: a registry
 * that trusts an ES256 token server, reached through a pass-through proxy that records
 * every Authorization header, so the test knows each bearer token tbuild was given and
 * can check that none (nor the password) shows in any output or the metadata file.
 */
const PASSWORD = 'T0ken-e2e-pa55word';
let tokens: TestTokenServer | undefined;
let registry: TestRegistry | undefined;
let proxy: FaultProxy | undefined;
let work = '';
let root = '';

function needs(ctx: TestContext): { proxy: FaultProxy; tokens: TestTokenServer } {
  requires(ctx, 'root', 'overlay', 'busybox', 'docker-registry', 'skopeo');
  if (proxy === undefined || tokens === undefined) throw new Error('registry did not start');
  return { proxy, tokens };
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  tokens = await startTokenServer({ users: { tester: PASSWORD } });
  registry = await startRegistry({ auth: { kind: 'token', server: tokens } });
  proxy = await startFaultProxy(registry);
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-auth-'));
  root = await rootWithBusybox();
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  await tokens?.stop();
  for (const dir of [work, root]) if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** Runs the built CLI without blocking the event loop (the proxy answers in this process). */
async function tbuild(
  args: string[],
  options: { root: string; dockerConfig: string; input?: string },
): Promise<CliResult> {
  const result = await runTbuildAsync(args, {
    root: options.root,
    env: { DOCKER_CONFIG: options.dockerConfig },
    ...(options.input === undefined ? {} : { input: options.input }),
  });
  expect(result.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
  return result;
}

/** Every bearer token and basic credential the proxy saw tbuild send. */
function secretsSent(via: FaultProxy): string[] {
  const secrets = new Set<string>([PASSWORD]);
  for (const request of via.requests) {
    const header = request.headers.authorization;
    if (header === undefined) continue;
    const [, value] = header.split(' ', 2);
    if (value !== undefined && value.length > 8) secrets.add(value);
  }
  return [...secrets];
}

async function skopeoDigest(ref: string): Promise<string> {
  const { stdout: raw } = await run('skopeo', [
    'inspect',
    '--raw',
    '--tls-verify=false',
    '--creds',
    `tester:${PASSWORD}`,
    `docker://${ref}`,
  ]);
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

function context(name: string, dockerfile: string): Promise<string> {
  return writeContext(join(work, name), { Dockerfile: dockerfile });
}

describe('token auth through builds', () => {
  it('logs in, builds FROM a private image and pushes, without leaking the password or a token', async (ctx) => {
    const { proxy: via, tokens: server } = needs(ctx);
    const dockerConfig = join(work, 'docker-config');
    const host = via.host;

    // Without credentials the token server gives nothing: a push fails, naming the way out.
    const seed = await context('seed', 'FROM busybox\nRUN echo base > /base.txt\n');
    const denied = await tbuild(['build', '-q', '--push', '-t', `${host}/team/base:v1`, seed], {
      root,
      dockerConfig,
    });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(host);
    expect(denied.stderr).toMatch(/log in|tbuild login/);

    const login = await tbuild(['login', '-u', 'tester', '--password-stdin', host], {
      root,
      dockerConfig,
      input: `${PASSWORD}\n`,
    });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('Login Succeeded');
    const config = JSON.parse(await readFile(join(dockerConfig, 'config.json'), 'utf8')) as {
      auths: Record<string, { auth?: string }>;
    };
    expect(Buffer.from(config.auths[host]?.auth ?? '', 'base64').toString()).toBe(
      `tester:${PASSWORD}`,
    );

    const seeded = await tbuild(['build', '-q', '--push', '-t', `${host}/team/base:v1`, seed], {
      root,
      dockerConfig,
    });
    expect(seeded.code, seeded.stderr).toBe(0);

    // A fresh root must pull the base through the token server, then push the result.
    const fresh = await mkdtemp(join(tmpdir(), 'tbuild-e2e-auth-fresh-'));
    try {
      const app = await context(
        'app',
        `FROM ${host}/team/base:v1\nRUN cat /base.txt > /app.txt && echo app >> /app.txt\n`,
      );
      const metadataFile = join(work, 'metadata.json');
      const issuedBefore = server.issued.length;
      const built = await tbuild(
        [
          'build',
          '--progress=plain',
          '--push',
          '-t',
          `${host}/team/app:v1`,
          '--metadata-file',
          metadataFile,
          app,
        ],
        { root: fresh, dockerConfig },
      );
      expect(built.code, built.stderr).toBe(0);
      const metadataText = await readFile(metadataFile, 'utf8');
      const metadata = JSON.parse(metadataText) as Record<string, unknown>;
      const digest = metadata['containerimage.digest'];
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(await skopeoDigest(`${host}/team/app:v1`)).toBe(digest);

      // Tokens were issued to tester for pull and push, and sent through the proxy.
      const issued = server.issued.slice(issuedBefore);
      expect(
        issued.some((t) => t.account === 'tester' && t.scopes.join(' ').includes('push')),
      ).toBe(true);
      const secrets = secretsSent(via);
      expect(secrets.length).toBeGreaterThan(2);
      for (const secret of secrets) {
        for (const [where, text] of [
          ['stdout', built.stdout],
          ['stderr', built.stderr],
          ['metadata', metadataText],
          ['login output', login.stdout + login.stderr],
          ['denied output', denied.stdout + denied.stderr],
        ] as const) {
          expect(text.includes(secret), `a credential leaked into the ${where}`).toBe(false);
        }
      }

      // The pushed image is the one built: skopeo fetches it back, its file is right.
      const copied = join(work, 'copied');
      await run('skopeo', [
        'copy',
        '--src-tls-verify=false',
        '--src-creds',
        `tester:${PASSWORD}`,
        `docker://${host}/team/app:v1`,
        `oci:${copied}:app`,
      ]);
      const unpacked = join(work, 'unpacked');
      await run('umoci', ['raw', 'unpack', '--rootless', '--image', `${copied}:app`, unpacked]);
      expect(await readFile(join(unpacked, 'app.txt'), 'utf8')).toBe('base\napp\n');
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  }, 300_000);

  it('tbuild login: usage errors without a terminal, --password warns, a terminal is asked without echo', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const host = via.host;
    const dockerConfig = join(work, 'docker-config-login');
    const options = { root, dockerConfig };

    const noUser = await tbuild(['login', host], options);
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toContain('-u/--username');
    const noPassword = await tbuild(['login', '-u', 'tester', host], options);
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toContain('--password-stdin or -p/--password');
    const stdinNoUser = await tbuild(['login', '--password-stdin', host], {
      ...options,
      input: PASSWORD,
    });
    expect(stdinNoUser.code).toBe(2);
    expect(stdinNoUser.stderr).toContain('-u/--username');

    const flag = await tbuild(['login', '-u', 'tester', '-p', PASSWORD, host], options);
    expect(flag.code, flag.stderr).toBe(0);
    expect(flag.stderr).toContain(
      'WARNING! Using --password via the CLI is insecure. Use --password-stdin.',
    );
    expect(flag.stdout + flag.stderr).not.toContain(PASSWORD);
    const piped = await tbuild(['login', '--username', 'tester', '--password-stdin', host], {
      ...options,
      input: `${PASSWORD}\n`,
    });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).not.toContain('insecure');

    // A pseudo-terminal (util-linux script): answer each prompt once it is shown.
    const child = spawn(
      'script',
      [
        '-qec',
        `${process.execPath} ${join(REPO_ROOT, 'bin/tbuild.js')} login ${host}`,
        '/dev/null',
      ],
      { env: { ...process.env, DOCKER_CONFIG: join(work, 'docker-config-tty') }, stdio: 'pipe' },
    );
    let screen = '';
    const waiters: { text: string; resolve: () => void }[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString('utf8');
      for (const waiter of waiters.splice(0))
        if (screen.includes(waiter.text)) waiter.resolve();
        else waiters.push(waiter);
    });
    const shown = (text: string): Promise<void> =>
      new Promise((resolve, reject) => {
        if (screen.includes(text)) resolve();
        else waiters.push({ text, resolve });
        setTimeout(() => {
          reject(new Error(`"${text}" was not shown; the terminal showed:\n${screen}`));
        }, 20_000);
      });
    const closed = new Promise<number>((resolve) =>
      child.on('close', (status) => {
        resolve(status ?? -1);
      }),
    );
    await shown('Username: ');
    child.stdin.write('tester\r');
    await shown('Password: ');
    child.stdin.write(`${PASSWORD}\r`);
    await shown('Login Succeeded');
    child.stdin.end();
    expect(await closed).toBe(0);
    expect(screen).toContain('Username: tester');
    expect(screen).not.toContain(PASSWORD);
    const stored = JSON.parse(
      await readFile(join(work, 'docker-config-tty', 'config.json'), 'utf8'),
    ) as { auths: Record<string, { auth?: string }> };
    expect(Buffer.from(stored.auths[host]?.auth ?? '', 'base64').toString()).toBe(
      `tester:${PASSWORD}`,
    );
  }, 120_000);
});
