import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
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
} from '../harness/index.js';

/**
 * A URL context without the `build` word (`tbuild https://…`, `tbuild git://…`),
 * as `tbuild .` builds a directory, and `tbuild graph --build-context`, through
 * the built CLI.
 */
let root = '';
let work = '';
useBuildRoot('tbuild-e2e-shorthand-', (dirs) => {
  ({ root, work } = dirs);
});
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops) await stop();
});

const listing = async (dir: string): Promise<string[]> => (await readdir(dir)).sort();

describe('tbuild URL, without the build word', () => {
  it('builds a git URL', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'git');
    const repo = await writeContext(join(work, 'repo'), {
      Dockerfile: 'FROM scratch\nCOPY . /\n',
      'from-git.txt': 'git\n',
    });
    const git = (...args: string[]): void => {
      execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@e', ...args]);
    };
    git('init', '--quiet', '-b', 'main');
    git('add', '.');
    git('commit', '--quiet', '-m', 'one');
    await mkdir(join(work, 'served'));
    execFileSync('git', ['clone', '--quiet', '--bare', repo, join(work, 'served/repo.git')]);
    const daemon = await startGitDaemon(join(work, 'served'));
    stops.push(() => daemon.stop());

    const out = join(work, 'out-git');
    const built = runTbuild(['-q', '-o', `type=local,dest=${out}`, `${daemon.url}/repo.git#main`], {
      root,
    });
    expect(built.code, built.stderr).toBe(0);
    expect(await listing(out)).toEqual(['Dockerfile', 'from-git.txt']);
    // As the first argument too, flags after it.
    const first = runTbuild([`${daemon.url}/repo.git`, '-q', '-o', `type=local,dest=${out}-2`], {
      root,
    });
    expect(first.code, first.stderr).toBe(0);
    expect(await readFile(join(`${out}-2`, 'from-git.txt'), 'utf8')).toBe('git\n');
  }, 120_000);

  it('builds an https URL of a Dockerfile', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
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
    const server = createServer(
      {
        key: await readFile(join(certDir, 'key.pem'), 'utf8'),
        cert: await readFile(join(certDir, 'cert.pem'), 'utf8'),
      },
      (request, response) => {
        if (request.url === '/Dockerfile')
          response.end(
            'FROM busybox AS step\nRUN echo from-url > /u\nFROM scratch\nCOPY --from=step /u /u\n',
          );
        else response.writeHead(404).end();
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    stops.push(
      () =>
        new Promise((resolve) =>
          server.close(() => {
            resolve();
          }),
        ),
    );
    const url = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}/Dockerfile`;

    const out = join(work, 'out-https');
    const built = await runTbuildAsync(['-q', '-o', `type=local,dest=${out}`, url], {
      root,
      env: { NODE_EXTRA_CA_CERTS: join(certDir, 'cert.pem') },
    });
    expect(built.code, built.stderr).toBe(0);
    expect(await readFile(join(out, 'u'), 'utf8')).toBe('from-url\n');
  }, 120_000);

  it('still calls a word that is neither a command, a path nor a URL an unknown command', () => {
    const result = runTbuild(['buidl', '.'], { root });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "buidl" (did you mean build?)');
  });
});

describe('tbuild graph --build-context', () => {
  it('lowers the Dockerfile with the named contexts in place of stages and images', async () => {
    const dir = await writeContext(join(work, 'graph'), {
      Dockerfile: 'FROM base\nCOPY --from=files /f /f\n',
    });
    const files = await writeContext(join(work, 'graph-files'), {
      f: 'f\n',
      '.dockerignore': 'ignored\n',
    });
    await writeFile(join(files, 'ignored'), 'x');
    const plain = runTbuild(['graph', dir]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('docker.io/library/base:latest');

    const named = runTbuild([
      'graph',
      '--build-context',
      'base=docker-image://alpine:3.20',
      '--build-context',
      `files=${files}`,
      dir,
    ]);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toContain('docker.io/library/alpine:3.20');
    expect(named.stdout).not.toContain('docker.io/library/base');
    expect(named.stdout).not.toContain('docker.io/library/files');
    const graph = JSON.parse(named.stdout) as {
      vertices: { op: { kind: string; source?: Record<string, unknown> } }[];
    };
    expect(graph.vertices.map((vertex) => vertex.op.source)).toContainEqual(
      expect.objectContaining({ type: 'local', name: 'named:files', excludePatterns: ['ignored'] }),
    );

    const bad = runTbuild(['graph', '--build-context', 'nameonly', dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--build-context "nameonly"');
  });
});
