import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  REPO_ROOT,
  requires,
  rootWithBusybox,
  runTbuildAsync,
  startTbuildService,
  writeContext,
  type CliResult,
  type TestService,
} from '../harness/index.js';

/**
 * `tbuild build --builder` against `tbuild serve --grpc` on another root: the
 * same image as a local build, the context synced incrementally (bytes counted
 * on the wire by a proxy), secrets and ssh agents served from the client and
 * never stored on the server, outputs streamed back, Ctrl-C, TLS with client
 * certificates, tokens, and named builders.
 */

const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };

let serverRoot = '';
let localRoot = '';
let work = '';
let configDir = '';
let service: TestService | undefined;

function needs(ctx: TestContext): void {
  requires(ctx, 'root', 'overlay', 'busybox');
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  serverRoot = await rootWithBusybox();
  localRoot = await rootWithBusybox();
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-remote-'));
  configDir = join(work, 'config');
  service = await startTbuildService({
    root: serverRoot,
    args: ['--grpc', 'tcp://127.0.0.1:0'],
  });
});

afterAll(async () => {
  await service?.stop();
  for (const dir of [serverRoot, localRoot, work])
    if (dir !== '') await rm(dir, { recursive: true, force: true });
});

function builder(): string {
  const address = service?.grpc;
  if (address === undefined) throw new Error('the service serves no gRPC');
  return address;
}

/** `tbuild build` on the remote builder; the client's own root is an empty directory. */
function remote(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runTbuildAsync(['build', '--builder', env['BUILDER'] ?? builder(), ...args], {
    root: join(work, 'client-root'),
    env: { ...EPOCH, TBUILD_CONFIG_DIR: configDir, ...env },
  });
}

function local(args: readonly string[]): Promise<CliResult> {
  return runTbuildAsync(['build', ...args], { root: localRoot, env: EPOCH });
}

function ok(result: CliResult): CliResult {
  expect(result.code, result.stderr).toBe(0);
  return result;
}

async function metadata(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

/** Every file under `dir` (a store), as paths. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

async function storeHolds(dir: string, text: string): Promise<string[]> {
  const holding: string[] = [];
  for (const file of await filesUnder(dir)) {
    const content = await readFile(file).catch(() => Buffer.alloc(0));
    if (content.includes(text)) holding.push(file);
  }
  return holding;
}

describe('a remote build', () => {
  it('gives the image a local build gives, and streams oci, tar and local outputs back', async (ctx) => {
    needs(ctx);
    const dir = await writeContext(join(work, 'same'), {
      Dockerfile:
        'FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt && echo built >> /b.txt\n',
      'a.txt': 'hello\n',
      'skipped.txt': 'not sent\n',
      '.dockerignore': 'skipped.txt\n',
    });
    const out = (name: string): string => join(work, 'out', name);
    await mkdir(join(work, 'out'), { recursive: true });
    ok(
      await local([
        '-t',
        'e2e/remote:same',
        '--metadata-file',
        out('local.json'),
        '-o',
        `type=oci,dest=${out('local.oci')}`,
        dir,
      ]),
    );
    const built = ok(
      await remote([
        '--progress',
        'plain',
        '--metadata-file',
        out('remote.json'),
        '-t',
        'e2e/remote:same',
        '-o',
        `type=oci,dest=${out('remote.oci')}`,
        '-o',
        `type=local,dest=${out('remote-dir')}`,
        '-o',
        `type=tar,dest=${out('remote.tar')}`,
        dir,
      ]),
    );
    // The local CLI renders the remote progress.
    expect(built.stderr).toMatch(/#\d+ \[2\/3\] COPY a.txt \/a.txt/);
    expect(built.stderr).toContain('exporting to client directory');
    const [mine, theirs] = [await metadata(out('local.json')), await metadata(out('remote.json'))];
    expect(theirs['containerimage.config.digest']).toBe(mine['containerimage.config.digest']);
    expect(theirs['containerimage.digest']).toBe(mine['containerimage.digest']);
    // The oci archive written from the stream is the local one, byte for byte.
    expect(sha256(await readFile(out('remote.oci')))).toBe(
      sha256(await readFile(out('local.oci'))),
    );
    expect(await readFile(join(out('remote-dir'), 'b.txt'), 'utf8')).toBe('hello\nbuilt\n');
    const listed = execFileSync('tar', ['-tf', out('remote.tar')], { encoding: 'utf8' });
    expect(listed.split('\n')).toContain('b.txt');
    // .dockerignore applied on the client: the file never reached the server.
    expect(await storeHolds(join(serverRoot, 'v1/service/remote-contexts'), 'hello')).not.toEqual(
      [],
    );
    expect(await storeHolds(serverRoot, 'not sent')).toEqual([]);
  });

  it('sends only the edited file of a synced context', async (ctx) => {
    needs(ctx);
    const files: Record<string, string> = {
      Dockerfile: 'FROM busybox\nCOPY . /src\nRUN wc -c /src/dir7/file7.bin > /size.txt\n',
    };
    // 200 files of 16 KiB that do not compress: 3.2 MiB in all.
    for (let index = 0; index < 200; index++)
      files[`dir${String(index % 10)}/file${String(index)}.bin`] = randomBytes(12 * 1024).toString(
        'base64',
      );
    const dir = await writeContext(join(work, 'sync'), files);
    const proxy = await countingProxy(builder());
    try {
      ok(await remote([dir], { BUILDER: proxy.address }));
      const first = proxy.take();
      expect(first).toBeGreaterThan(3 * 1024 * 1024);
      await writeFile(join(dir, 'dir7/file7.bin'), randomBytes(12 * 1024).toString('base64'));
      ok(await remote([dir], { BUILDER: proxy.address }));
      const second = proxy.take();
      // The edited file (16 KiB) crosses, with the listing and the options: not the other 199.
      expect(second).toBeGreaterThan(16 * 1024);
      expect(second).toBeLessThan(64 * 1024);
      // Nothing changed: the listing alone.
      ok(await remote([dir], { BUILDER: proxy.address }));
      expect(proxy.take()).toBeLessThan(16 * 1024);
    } finally {
      await proxy.close();
    }
  });

  it('fails as a local build fails, with the same code and the Dockerfile lines', async (ctx) => {
    needs(ctx);
    const dir = await writeContext(join(work, 'fails'), {
      Dockerfile: 'FROM busybox\nRUN echo about to fail && exit 3\n',
    });
    const result = await remote(['--progress', 'plain', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('about to fail');
    expect(result.stderr).toMatch(/error code: TB_RUN_FAILED|error code: TB_\w+/);
    const localResult = await local(['--progress', 'plain', dir]);
    const code = (text: string): string | undefined => /error code: (\S+)/.exec(text)?.[1];
    expect(code(result.stderr)).toBe(code(localResult.stderr));
    expect(result.stderr).toContain('RUN echo about to fail && exit 3');
  });
});

describe('secrets and ssh agents', () => {
  let agent: ChildProcess | undefined;
  let socket = '';
  let tools = '';

  afterAll(() => {
    agent?.kill();
  });

  it('a secret is read on the client when the step mounts it, and the server keeps none of it', async (ctx) => {
    needs(ctx);
    const value = `s3cret-${randomBytes(8).toString('hex')}`;
    const secretFile = join(work, 'secret.txt');
    await writeFile(secretFile, value);
    // The step compares the secret's hash, so its value is in no log or layer.
    const dir = await writeContext(join(work, 'secret'), {
      Dockerfile: `FROM busybox\nRUN --mount=type=secret,id=tok test "$(sha256sum /run/secrets/tok | cut -d' ' -f1)" = "${sha256(Buffer.from(value))}" && echo matched > /ok\n`,
    });
    ok(
      await remote([
        '--secret',
        `id=tok,src=${secretFile}`,
        '-o',
        `type=local,dest=${join(work, 'secret-out')}`,
        dir,
      ]),
    );
    expect(await readFile(join(work, 'secret-out', 'ok'), 'utf8')).toBe('matched\n');
    expect(await storeHolds(serverRoot, value)).toEqual([]);
    // Without the secret, a step that requires it fails, as locally.
    await writeFile(
      join(dir, 'Dockerfile'),
      'FROM busybox\nRUN --mount=type=secret,id=tok,required=true cat /run/secrets/tok\n',
    );
    const missing = await remote(['--no-cache', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('tok');
  });

  it('RUN --mount=type=ssh reaches the agent on the client', async (ctx) => {
    needs(ctx);
    requires(ctx, 'ssh-agent');
    const dir = join(work, 'ssh');
    await mkdir(dir, { recursive: true });
    socket = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    for (let tries = 0; tries < 200 && !(await exists(socket)); tries++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'tbuild-remote-key',
      '-f',
      join(dir, 'key'),
    ]);
    execFileSync('ssh-add', [join(dir, 'key')], {
      env: { ...process.env, SSH_AUTH_SOCK: socket },
      stdio: 'ignore',
    });
    // The host's ssh-add and its libraries, run by the dynamic loader inside busybox.
    tools = await writeContext(join(work, 'ssh-tools'), {});
    const ldd = execFileSync('ldd', ['/usr/bin/ssh-add'], { encoding: 'utf8' });
    for (const path of ['/usr/bin/ssh-add', ...(ldd.match(/\/\S+/g) ?? [])])
      await copyFile(path, join(tools, basename(path)));
    await writeFile(
      join(tools, 'Dockerfile'),
      'FROM busybox\nRUN --mount=type=ssh --mount=type=bind,target=/t /t/ld-linux-x86-64.so.2 --library-path /t /t/ssh-add -l > /keys\n',
    );
    const out = join(work, 'ssh-out');
    ok(
      await remote(['--ssh', 'default', '-o', `type=local,dest=${out}`, tools], {
        SSH_AUTH_SOCK: socket,
      }),
    );
    expect(await readFile(join(out, 'keys'), 'utf8')).toContain('tbuild-remote-key');
    // The key never reached the server's store.
    const publicKey = (await readFile(join(dir, 'key.pub'), 'utf8')).split(' ')[1] ?? '';
    expect(await storeHolds(serverRoot, publicKey)).toEqual([]);
  });
});

describe('Ctrl-C', () => {
  it('cancels the build on the server and exits 130', async (ctx) => {
    needs(ctx);
    const dir = await writeContext(join(work, 'cancel'), {
      Dockerfile: 'FROM busybox\nRUN echo sleeping-now && sleep 600\n',
    });
    const child = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'bin/tbuild.js'),
        'build',
        '--builder',
        builder(),
        '--progress',
        'plain',
        dir,
      ],
      {
        env: {
          ...process.env,
          ...EPOCH,
          TBUILD_CONFIG_DIR: configDir,
          TBUILD_ROOT: join(work, 'client-root'),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    const started = new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        if (stderr.includes('sleeping-now')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await started;
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('ERROR: canceled');
    const url = service?.url ?? '';
    // The server's record of the build ends cancelled.
    let status = '';
    for (let tries = 0; tries < 600 && status !== 'cancelled'; tries++) {
      const list = (await (await fetch(`${url}/v1/builds?limit=1`)).json()) as {
        builds: { status: string }[];
      };
      status = list.builds[0]?.status ?? '';
      if (status !== 'cancelled') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe('cancelled');
  });
});

describe('TLS and tokens', () => {
  it('needs the client certificate the server asks for, and a valid token', async (ctx) => {
    needs(ctx);
    requires(ctx, 'openssl');
    const pki = join(work, 'pki');
    await mkdir(pki, { recursive: true });
    const ssl = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: pki, stdio: 'ignore' });
    };
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=tbuild-test-ca',
    );
    for (const name of ['server', 'client']) {
      ssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name}`,
      );
      await writeFile(
        join(pki, `${name}.ext`),
        name === 'server' ? 'subjectAltName=IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n',
      );
      ssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
      );
    }
    const token = randomBytes(16).toString('hex');
    const config = join(work, 'tls-config.json');
    await writeFile(
      config,
      JSON.stringify({ tokens: [{ name: 'ci', sha256: sha256(Buffer.from(token)) }] }),
    );
    const secured = await startTbuildService({
      root: serverRoot,
      args: [
        '--listen',
        'tcp://127.0.0.1:0',
        '--grpc',
        'tcp://127.0.0.1:0',
        '--config',
        config,
        '--tls-cert',
        join(pki, 'server.pem'),
        '--tls-key',
        join(pki, 'server.key'),
        '--tls-ca',
        join(pki, 'ca.pem'),
      ],
    });
    try {
      const address = secured.grpc ?? '';
      const dir = await writeContext(join(work, 'tls'), {
        Dockerfile: 'FROM busybox\nRUN echo over-tls\n',
      });
      const tls = {
        TBUILD_BUILDER_TLS_CA: join(pki, 'ca.pem'),
        TBUILD_BUILDER_TLS_CERT: join(pki, 'client.pem'),
        TBUILD_BUILDER_TLS_KEY: join(pki, 'client.key'),
      };
      const tokenFile = join(pki, 'token');
      await writeFile(tokenFile, `${token}\n`);
      // A named builder with every credential builds.
      ok(
        await runTbuildAsync(
          [
            'builder',
            'create',
            'secure',
            address,
            '--tls-ca',
            tls.TBUILD_BUILDER_TLS_CA,
            '--tls-cert',
            tls.TBUILD_BUILDER_TLS_CERT,
            '--tls-key',
            tls.TBUILD_BUILDER_TLS_KEY,
            '--token-file',
            tokenFile,
          ],
          { env: { TBUILD_CONFIG_DIR: configDir } },
        ),
      );
      ok(await remote([dir], { BUILDER: 'secure' }));
      // No client certificate: refused before any build.
      const noCert = await remote([dir], {
        BUILDER: address,
        TBUILD_BUILDER_TLS_CA: tls.TBUILD_BUILDER_TLS_CA,
        TBUILD_BUILDER_TOKEN: token,
      });
      expect(noCert.code).toBe(1);
      expect(noCert.stderr).toContain('error code: TB_BUILDER_UNAVAILABLE');
      // A wrong token: refused with the service's code.
      const wrong = await remote([dir], {
        BUILDER: address,
        ...tls,
        TBUILD_BUILDER_TOKEN: 'wrong',
      });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('error code: TB_SERVICE_UNAUTHENTICATED');
      ok(await remote([dir], { BUILDER: address, ...tls, TBUILD_BUILDER_TOKEN: token }));
      // A local cache would name a path of the builder: refused, as by the HTTP API.
      const localCache = await remote(['--cache-to', `type=local,dest=${join(work, 'c')}`, dir], {
        BUILDER: address,
        ...tls,
        TBUILD_BUILDER_TOKEN: token,
      });
      expect(localCache.code).toBe(1);
      expect(localCache.stderr).toContain('error code: TB_SERVICE_REQUEST');
    } finally {
      await secured.stop();
    }
  });
});

describe('named builders', () => {
  it('create, ls, use and rm as docker buildx does; a build uses the one in use', async (ctx) => {
    needs(ctx);
    const dir = join(work, 'names');
    const env = { TBUILD_CONFIG_DIR: dir };
    const cli = (args: readonly string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
      runTbuildAsync(args, {
        root: join(work, 'client-root'),
        env: { ...env, ...EPOCH, ...extra },
      });
    ok(await cli(['builder', 'create', 'far', builder()]));
    ok(await cli(['builder', 'use', 'far']));
    const listed = ok(await cli(['builder', 'ls'])).stdout;
    expect(listed).toMatch(/^far \*\s+tcp:\/\/127\.0\.0\.1:\d+\s+no$/m);
    expect(listed).toMatch(/^local\s+this machine$/m);
    const context = await writeContext(join(work, 'named'), {
      Dockerfile: 'FROM busybox\nRUN echo on-the-far-builder\n',
    });
    // The client's own root holds no busybox: only the builder in use can build this.
    const built = ok(await cli(['build', '--progress', 'plain', context]));
    expect(built.stderr).toContain('on-the-far-builder');
    const unknown = await cli(['build', '--builder', 'nowhere', context]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error code: TB_BUILDER_NOT_FOUND');
    ok(await cli(['builder', 'rm', 'far']));
    expect(ok(await cli(['builder', 'ls'])).stdout).toMatch(/^local \*\s+this machine$/m);
    const gone = await cli(['builder', 'use', 'far']);
    expect(gone.stderr).toContain('error code: TB_BUILDER_NOT_FOUND');
  });
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A TCP proxy to `target` that counts the bytes clients send through it. */
async function countingProxy(
  target: string,
): Promise<{ address: string; take(): number; close(): Promise<void> }> {
  const [host = '', port = ''] = target.replace('tcp://', '').split(':');
  let sent = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), host);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => (sent += chunk.length));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    address: `tcp://127.0.0.1:${String(bound)}`,
    take: () => {
      const counted = sent;
      sent = 0;
      return counted;
    },
    close: () =>
      new Promise((resolve) => {
        // The builder may keep its side of a finished client's connection open.
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
