import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  requires,
  runTbuild,
  runTbuildAsync,
  startGitDaemon,
  useBuildRoot,
  writeContext,
  type TestGitDaemon,
} from '../harness/index.js';

let root = '';
let work = '';
useBuildRoot('tbuild-contexts-', (dirs) => {
  ({ root, work } = dirs);
});
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops) await stop();
});

/** Every file below dir, relative, sorted. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

const COPY_ALL = 'FROM scratch\nCOPY . /\n';

/** Serves `routes` (path → body) on loopback; https with a fresh self-signed cert when asked. */
async function serve(
  routes: Readonly<Record<string, Buffer | string>>,
  tls: { key: string; cert: string } | undefined,
): Promise<string> {
  const handler: RequestListener = (request, response) => {
    const body = routes[request.url ?? ''];
    response.writeHead(body === undefined ? 404 : 200).end(body);
  };
  const server = tls === undefined ? createHttpServer(handler) : createHttpsServer(tls, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(
    () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  );
  const { port } = server.address() as AddressInfo;
  return `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${String(port)}`;
}

describe('build contexts other than a directory, as docker build takes them', () => {
  it('reads a tar from stdin, or a Dockerfile alone from stdin', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const source = await writeContext(join(work, 'tar-src'), {
      'hello.txt': 'hello\n',
      'sub/Dockerfile.alt': COPY_ALL,
    });
    // Uncompressed: the harness passes stdin as UTF-8 text, which an ASCII-only tar survives.
    execFileSync('tar', ['-C', source, '-cf', join(work, 'stdin.tar'), '.']);
    const out = join(work, 'out-tar');
    const tarred = runTbuild(
      ['build', '-q', '-f', 'sub/Dockerfile.alt', '-o', `type=local,dest=${out}`, '-'],
      { root, input: await readFile(join(work, 'stdin.tar'), 'utf8') },
    );
    expect(tarred.code, tarred.stderr).toBe(0);
    expect(await files(out)).toEqual(['hello.txt', 'sub/Dockerfile.alt']);

    const alone = join(work, 'out-alone');
    const dockerfile =
      'FROM busybox AS base\nRUN ls -A /ctx > /listing; echo stdin-ok > /ok\n' +
      'FROM scratch\nCOPY --from=base /ok /ok\nCOPY . /\n';
    const fromStdin = runTbuild(['build', '-q', '-o', `type=local,dest=${alone}`, '-'], {
      root,
      input: dockerfile,
    });
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    // The context is empty: the Dockerfile is not part of it.
    expect(await files(alone)).toEqual(['ok']);
    expect(await readFile(join(alone, 'ok'), 'utf8')).toBe('stdin-ok\n');

    const both = runTbuild(['build', '-f', '-', '-'], { root, input: dockerfile });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('standard input for both');
  }, 120_000);

  it('clones a git URL with #ref:subdir', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'git');
    const repo = await writeContext(join(work, 'git-work'), {
      'top.txt': 'top\n',
      'app/Dockerfile': COPY_ALL,
      'app/app.txt': 'on main\n',
    });
    const git = (...args: string[]): void => {
      execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@e', ...args]);
    };
    git('init', '--quiet', '-b', 'main');
    git('add', '.');
    git('commit', '--quiet', '-m', 'one');
    git('checkout', '--quiet', '-b', 'release');
    await writeFile(join(repo, 'app/app.txt'), 'on release\n');
    git('commit', '--quiet', '-am', 'two');
    git('checkout', '--quiet', 'main');
    await mkdir(join(work, 'served'));
    execFileSync('git', ['clone', '--quiet', '--bare', repo, join(work, 'served/repo.git')]);
    const daemon: TestGitDaemon = await startGitDaemon(join(work, 'served'));
    stops.push(() => daemon.stop());

    const out = join(work, 'out-git');
    const built = runTbuild(
      ['build', '-q', '-o', `type=local,dest=${out}`, `${daemon.url}/repo.git#release:app`],
      { root },
    );
    expect(built.code, built.stderr).toBe(0);
    expect(await files(out)).toEqual(['Dockerfile', 'app.txt']);
    expect(await readFile(join(out, 'app.txt'), 'utf8')).toBe('on release\n');

    const whole = join(work, 'out-git-main');
    const main = runTbuild(
      [
        'build',
        '-q',
        '-f',
        'app/Dockerfile',
        '-o',
        `type=local,dest=${whole}`,
        `${daemon.url}/repo.git`,
      ],
      { root },
    );
    expect(main.code, main.stderr).toBe(0);
    expect(await files(whole)).toEqual(['app/Dockerfile', 'app/app.txt', 'top.txt']);
    expect(await readFile(join(whole, 'app/app.txt'), 'utf8')).toBe('on main\n');

    const missing = runTbuild(['build', '-q', `${daemon.url}/repo.git#nope`], { root });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope');
  }, 120_000);

  it('downloads a tarball or a Dockerfile from an https URL (and http)', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const certDir = join(work, 'tls');
    await mkdir(certDir);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(certDir, 'key.pem'),
        '-out',
        join(certDir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const source = await writeContext(join(work, 'url-src'), {
      Dockerfile: COPY_ALL,
      'served.txt': 'served\n',
    });
    execFileSync('tar', ['-C', source, '-czf', join(work, 'ctx.tgz'), '.']);
    const routes = {
      '/ctx.tar': await readFile(join(work, 'ctx.tgz')),
      '/Dockerfile': 'FROM scratch\nCOPY . /\n',
    };
    const https = await serve(routes, {
      key: await readFile(join(certDir, 'key.pem'), 'utf8'),
      cert: await readFile(join(certDir, 'cert.pem'), 'utf8'),
    });
    const http = await serve(routes, undefined);
    const env = { NODE_EXTRA_CA_CERTS: join(certDir, 'cert.pem') };

    const out = join(work, 'out-https');
    const built = await runTbuildAsync(
      ['build', '-q', '-o', `type=local,dest=${out}`, `${https}/ctx.tar`],
      { root, env },
    );
    expect(built.code, built.stderr).toBe(0);
    expect(await files(out)).toEqual(['Dockerfile', 'served.txt']);

    // Without the CA the certificate is refused, so the test above did use TLS.
    const untrusted = await runTbuildAsync(['build', '-q', `${https}/ctx.tar`], { root });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toContain('TB_HTTP_SOURCE');

    const plain = join(work, 'out-http');
    const alone = await runTbuildAsync(
      ['build', '-q', '-o', `type=local,dest=${plain}`, `${http}/Dockerfile`],
      { root },
    );
    expect(alone.code, alone.stderr).toBe(0);
    expect(await files(plain)).toEqual([]);
    const gone = await runTbuildAsync(['build', '-q', `${http}/missing.tar`], { root });
    expect(gone.stderr).toContain('404');
  }, 120_000);
});
