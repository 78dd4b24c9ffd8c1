import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { isTbuildError } from '../core/index.js';
import { loadIntoDocker, parseDockerHost } from './docker-daemon.js';

describe('parseDockerHost', () => {
  it('reads unix and tcp addresses as docker does', () => {
    expect(parseDockerHost('unix:///var/run/docker.sock')).toMatchObject({
      kind: 'unix',
      path: '/var/run/docker.sock',
    });
    expect(parseDockerHost('tcp://127.0.0.1:2376')).toMatchObject({
      kind: 'tcp',
      host: '127.0.0.1',
      port: 2376,
    });
    expect(parseDockerHost('tcp://[::1]')).toMatchObject({ kind: 'tcp', host: '::1', port: 2375 });
  });

  it('refuses other forms with TB_USAGE naming the value', () => {
    for (const text of ['ssh://me@host', 'unix://relative.sock', 'npipe:////./pipe/docker']) {
      expect(() => parseDockerHost(text)).toThrow(text);
    }
  });
});

let server: Server | undefined;
let dir = '';
afterEach(async () => {
  server?.close();
  server = undefined;
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** A fake daemon on a unix socket answering /_ping and /images/load with `answer`. */
async function fakeDaemon(answer: { status: number; body: string }): Promise<{
  host: string;
  received: () => number;
}> {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-fake-docker-'));
  const socket = join(dir, 'docker.sock');
  let bytes = 0;
  server = createServer((req, res) => {
    if (req.url === '/_ping') {
      res.end('OK');
      return;
    }
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      res.writeHead(answer.status, { 'Content-Type': 'application/json' });
      res.end(answer.body);
    });
  });
  server.listen(socket);
  await once(server, 'listening');
  return { host: `unix://${socket}`, received: () => bytes };
}

async function send(body: NodeJS.WritableStream): Promise<void> {
  body.end(Buffer.alloc(4096, 1));
  await once(body, 'finish');
}

describe('loadIntoDocker', () => {
  it('sends the archive and returns what the daemon loaded', async () => {
    const daemon = await fakeDaemon({
      status: 200,
      body: '{"stream":"Loaded image: app:1\\n"}\n',
    });
    const loaded = await loadIntoDocker(
      parseDockerHost(daemon.host),
      send,
      AbortSignal.timeout(10_000),
    );
    expect(loaded).toEqual(['Loaded image: app:1']);
    expect(daemon.received()).toBe(4096);
  });

  it('fails with TB_DOCKER_LOAD when the daemon answers an error message', async () => {
    const daemon = await fakeDaemon({
      status: 200,
      body: '{"errorDetail":{"message":"no space"},"error":"no space"}\n',
    });
    const error: unknown = await loadIntoDocker(
      parseDockerHost(daemon.host),
      send,
      AbortSignal.timeout(10_000),
    ).catch((caught: unknown) => caught);
    expect(isTbuildError(error) && error.code).toBe('TB_DOCKER_LOAD');
    expect(String(error)).toContain('no space');
  });

  it('fails with TB_DOCKER_UNAVAILABLE naming the address when nothing listens', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tbuild-no-docker-'));
    const host = `unix://${join(dir, 'docker.sock')}`;
    const error: unknown = await loadIntoDocker(
      parseDockerHost(host),
      send,
      AbortSignal.timeout(10_000),
    ).catch((caught: unknown) => caught);
    expect(isTbuildError(error) && error.code).toBe('TB_DOCKER_UNAVAILABLE');
    expect(String(error)).toContain(host);
  });
});
