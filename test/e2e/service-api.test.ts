import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  requires,
  rootWithBusybox,
  startTbuildService,
  type TestService,
} from '../harness/index.js';

/**
 * `tbuild serve`'s native API over a real socket, with the built CLI as the
 * server: every endpoint, SSE replay and resume, cancel, the queue's limits,
 * tokens, a restart after kill -9, SIGTERM, and malformed requests.
 */

interface TarEntry {
  readonly name: string;
  readonly content?: string;
  readonly type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device';
  readonly linkname?: string;
}

async function tarOf(entries: readonly TarEntry[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve) => archive.on('end', resolve));
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const header = {
      name: entry.name,
      type,
      mode: type === 'directory' ? 0o755 : 0o644,
      ...(entry.linkname === undefined ? {} : { linkname: entry.linkname }),
      ...(type === 'character-device' ? { devmajor: 1, devminor: 3 } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null): void => {
        if (error) reject(error);
        else resolve();
      };
      if (type === 'file') archive.entry(header, entry.content ?? '', done);
      else archive.entry(header, done);
    });
  }
  archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}

function dockerfileContext(dockerfile: string, files: Record<string, string> = {}) {
  return tarOf([
    { name: 'Dockerfile', content: dockerfile },
    ...Object.entries(files).map(([name, content]) => ({ name, content })),
  ]);
}

interface Submitted {
  readonly id: string;
  readonly status: string;
  readonly links: Record<string, string>;
}

async function submit(
  service: TestService,
  body: Buffer,
  query = '',
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${service.url}/v1/builds${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-tar', ...headers },
    body,
  });
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

async function record(service: TestService, id: string, headers: Record<string, string> = {}) {
  return json<{
    status: string;
    steps: { name: string; cached: boolean; started?: string; finished?: string }[];
    /** manifestDigest only when a manifest was written (a push, an archive). */
    result?: { manifestDigest?: string; configDigest: string; tags: string[] };
    error?: { code: string; message: string };
  }>(await fetch(`${service.url}/v1/builds/${id}`, { headers }));
}

/** Follows the events until `end`; returns the SSE messages (id, event, data). */
async function readEvents(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':'))
    .map((block) => {
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
      }
      return { id: fields.get('id'), event: fields.get('event'), data: fields.get('data') ?? '' };
    });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function waitForStatus(
  service: TestService,
  id: string,
  statuses: readonly string[],
): Promise<string> {
  return waitFor(`build ${id} to be ${statuses.join('|')}`, async () => {
    const { status } = await record(service, id);
    return statuses.includes(status) ? status : undefined;
  });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
async function makePki(dir: string) {
  await mkdir(dir, { recursive: true });
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    const result = spawnSync('openssl', args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${result.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-subj',
    '/CN=test-ca',
    '-days',
    '2',
  );
  for (const [name, subject, extension] of [
    ['server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1'],
    ['client', '/CN=ci-runner', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl(
      'req',
      '-new',
      ...ec,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
      '-subj',
      subject,
    );
    await writeFile(file(`${name}.ext`), `${extension}\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file(`${name}.pem`),
      '-days',
      '2',
      '-extfile',
      file(`${name}.ext`),
    );
  }
  return {
    ca: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
  };
}

function httpsGet(
  port: number,
  path: string,
  tls: { ca: Buffer; cert?: Buffer; key?: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      { host: '127.0.0.1', port, path, method: 'GET', ...tls },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, body });
        });
      },
    );
    request.on('error', reject);
    request.end();
  });
}

let root = '';
let work = '';

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  root = await rootWithBusybox();
  work = await mkdtemp(join(tmpdir(), 'tbuild-service-api-'));
});

afterAll(async () => {
  for (const dir of [root, work]) if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('tbuild serve: the /v1 API', () => {
  it('builds a tar context, reports steps and result, replays events, resumes them and serves the log', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const service = await startTbuildService({ root });
    try {
      expect(await json(await fetch(`${service.url}/healthz`))).toEqual({ status: 'ok' });
      expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
      const context = await dockerfileContext(
        'FROM busybox\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt && echo built-by-service > /out\n',
        { 'hello.txt': 'hello from the context\n' },
      );
      const query = '?tag=svc/one:1&label=team=ci&build-arg=SOURCE_DATE_EPOCH=1700000000';
      const response = await submit(service, context, query);
      expect(response.status).toBe(202);
      const submitted = await json<Submitted>(response);
      expect(submitted.links['events']).toBe(`/v1/builds/${submitted.id}/events`);

      // Events from the start: vertex statuses, the RUN's log, then `end`.
      const events = await readEvents(`${service.url}${submitted.links['events'] ?? ''}`);
      const end = events.at(-1);
      expect(end?.event).toBe('end');
      expect(JSON.parse(end?.data ?? '{}')).toEqual({ status: 'succeeded' });
      const statuses = events.filter((event) => event.event === undefined);
      expect(statuses.map((event) => Number(event.id))).toEqual(
        statuses.map((_, index) => index + 1),
      );
      const logs = statuses
        .map((event) => JSON.parse(event.data) as { logs?: { data: string }[] })
        .flatMap((status) => status.logs ?? [])
        .map((log) => Buffer.from(log.data, 'base64').toString('utf8'))
        .join('');
      expect(logs).toContain('hello from the context');

      // A late client resumes after the last id it saw.
      const resumed = await readEvents(`${service.url}/v1/builds/${submitted.id}/events`, {
        'last-event-id': String(statuses.length - 2),
      });
      expect(resumed.map((event) => event.id ?? event.event)).toEqual([
        String(statuses.length - 1),
        String(statuses.length),
        'end',
      ]);

      const built = await record(service, submitted.id);
      expect(built.status).toBe('succeeded');
      expect(built.result?.tags).toEqual(['svc/one:1']);
      // Into the service's image store only: the image ID, and no manifest made.
      expect(built.result?.configDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(built.result?.manifestDigest).toBeUndefined();
      const run = built.steps.find((step) => step.name.includes('RUN cat /hello.txt'));
      expect(run).toMatchObject({ cached: false });
      expect(Date.parse(run?.finished ?? '')).toBeGreaterThanOrEqual(
        Date.parse(run?.started ?? ''),
      );

      const log = await (await fetch(`${service.url}/v1/builds/${submitted.id}/logs`)).text();
      expect(log).toContain('hello from the context');
      expect(log).toMatch(/RUN cat \/hello.txt/);

      // The same build again: every step cached, the same image (SOURCE_DATE_EPOCH pins times).
      const again = await json<Submitted>(await submit(service, context, query));
      expect(await waitForStatus(service, again.id, ['succeeded', 'failed'])).toBe('succeeded');
      const second = await record(service, again.id);
      expect(second.result?.configDigest).toBe(built.result?.configDigest);
      expect(
        second.steps.filter((step) => step.name.includes('RUN')).every((step) => step.cached),
      ).toBe(true);

      const list = await json<{ builds: { id: string; status: string }[]; next_cursor?: string }>(
        await fetch(`${service.url}/v1/builds?limit=1`),
      );
      expect(list.builds.map((build) => build.id)).toEqual([again.id]);
      const next = await json<{ builds: { id: string }[] }>(
        await fetch(`${service.url}/v1/builds?limit=1&cursor=${list.next_cursor ?? ''}`),
      );
      expect(next.builds.map((build) => build.id)).toEqual([submitted.id]);
      const succeeded = await json<{ builds: unknown[] }>(
        await fetch(`${service.url}/v1/builds?status=succeeded`),
      );
      expect(succeeded.builds).toHaveLength(2);

      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      expect(metrics).toMatch(/^tbuild_builds_total\{result="succeeded"\} 2$/m);
      expect(metrics).toMatch(/^tbuild_cache_hits_total [1-9]/m);
      expect(metrics).toMatch(/^tbuild_build_duration_seconds_count 2$/m);
      expect(metrics).toMatch(/^tbuild_queue_length 0$/m);
      expect(metrics).toMatch(/^tbuild_store_bytes [1-9]/m);
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });

  it('fails a bad build with its error, cancels a running one, and refuses a full queue with 429', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const service = await startTbuildService({
      root,
      args: ['--max-concurrent-builds', '1', '--max-queue', '1'],
    });
    try {
      const failing = await json<Submitted>(
        await submit(service, await dockerfileContext('FROM busybox\nRUN exit 3\n')),
      );
      expect(await waitForStatus(service, failing.id, ['failed', 'succeeded'])).toBe('failed');
      expect((await record(service, failing.id)).error?.code).toBe('TB_RUN_FAILED');

      const sleeper = await dockerfileContext('FROM busybox\nRUN echo started && sleep 300\n');
      const running = await json<Submitted>(await submit(service, sleeper, '?no-cache=true'));
      await waitForStatus(service, running.id, ['running']);
      const queued = await json<Submitted>(await submit(service, sleeper, '?no-cache=true'));
      expect(queued.status).toBe('queued');
      const refused = await submit(service, sleeper);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await json(refused)).toMatchObject({ code: 'TB_SERVICE_QUEUE_FULL' });

      expect(
        (await fetch(`${service.url}/v1/builds/${queued.id}/cancel`, { method: 'POST' })).status,
      ).toBe(202);
      expect((await record(service, queued.id)).status).toBe('cancelled');
      await fetch(`${service.url}/v1/builds/${running.id}/cancel`, { method: 'POST' });
      expect(await waitForStatus(service, running.id, ['cancelled', 'failed', 'succeeded'])).toBe(
        'cancelled',
      );
      const cut = (await record(service, running.id)).steps.find((step) =>
        step.name.includes('sleep 300'),
      );
      expect(cut?.finished).toBeDefined();
      const events = await readEvents(`${service.url}/v1/builds/${running.id}/events`);
      expect(JSON.parse(events.at(-1)?.data ?? '{}')).toMatchObject({ status: 'cancelled' });
    } finally {
      await service.stop();
    }
  });

  it('asks for tokens when it has them, and checks their scopes', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
    const config = join(work, 'tokens.json');
    await writeFile(
      config,
      JSON.stringify({
        tokens: [
          { name: 'ci', sha256: sha('ci-secret-token'), scopes: ['read', 'build'] },
          { name: 'dashboard', sha256: sha('read-only-token'), scopes: ['read'] },
        ],
      }),
    );
    const service = await startTbuildService({ root, args: ['--config', config] });
    try {
      const context = await dockerfileContext('FROM busybox\nRUN true\n');
      const none = await submit(service, context);
      expect(none.status).toBe(401);
      expect(await json(none)).toMatchObject({ code: 'TB_SERVICE_UNAUTHENTICATED' });
      const wrong = await submit(service, context, '', { authorization: 'Bearer nope' });
      expect(wrong.status).toBe(401);
      const readOnly = await submit(service, context, '', {
        authorization: 'Bearer read-only-token',
      });
      expect(readOnly.status).toBe(403);
      expect(await json(readOnly)).toMatchObject({ code: 'TB_SERVICE_FORBIDDEN' });
      const ok = await submit(service, context, '', { authorization: 'Bearer ci-secret-token' });
      expect(ok.status).toBe(202);
      const { id } = await json<Submitted>(ok);
      const seen = await fetch(`${service.url}/v1/builds/${id}`, {
        headers: { authorization: 'Bearer read-only-token' },
      });
      expect(seen.status).toBe(200);
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${service.url}/metrics`)).status).toBe(401);
      expect(service.stderr()).not.toContain('ci-secret-token');
    } finally {
      await service.stop();
    }
  });

  it('mounts a secret sent as a multipart part and keeps it out of records, events and logs', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const service = await startTbuildService({ root });
    const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
    try {
      const secret = 'multipart-s3cr3t-value';
      const form = new FormData();
      form.append(
        'context',
        new Blob([
          await dockerfileContext(
            'FROM busybox\nRUN --mount=type=secret,id=token ' +
              `test "$(sha256sum < /run/secrets/token | cut -c1-64)" = ${sha256(secret)} && echo secret-ok\n`,
          ),
        ]),
        'context.tar',
      );
      form.append('secret:token', secret);
      const response = await fetch(`${service.url}/v1/builds?no-cache=true`, {
        method: 'POST',
        body: form,
      });
      expect(response.status).toBe(202);
      const { id } = await json<Submitted>(response);
      expect(await waitForStatus(service, id, ['succeeded', 'failed'])).toBe('succeeded');
      const log = await (await fetch(`${service.url}/v1/builds/${id}/logs`)).text();
      expect(log).toContain('secret-ok');
      const kept = join(root, 'v1', 'service', 'builds', id);
      for (const file of await readdir(kept)) {
        expect(await readFile(join(kept, file), 'utf8')).not.toContain(secret);
      }
      const noContext = new FormData();
      noContext.append('secret:token', secret);
      const refused = await fetch(`${service.url}/v1/builds`, { method: 'POST', body: noContext });
      expect(refused.status).toBe(400);
      expect(await json(refused)).toMatchObject({ code: 'TB_SERVICE_REQUEST' });
    } finally {
      await service.stop();
    }
  });

  it('serves TLS with client certificates, refuses clients without one, and an open address without TLS', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const pki = await makePki(join(work, 'pki'));
    const service = await startTbuildService({
      root,
      args: ['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--tls-ca', pki.ca],
    });
    try {
      const port = Number(service.tcp.split(':').at(-1));
      const withCert = await httpsGet(port, '/v1/builds', {
        ca: await readFile(pki.ca),
        cert: await readFile(pki.clientCert),
        key: await readFile(pki.clientKey),
      });
      expect(withCert.status).toBe(200);
      expect(JSON.parse(withCert.body)).toHaveProperty('builds');
      const without = await httpsGet(port, '/v1/builds', { ca: await readFile(pki.ca) }).catch(
        (error: unknown) => error,
      );
      expect(without).toBeInstanceOf(Error);
    } finally {
      await service.stop();
    }
    const open = spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'bin/tbuild.js'), 'serve', '--root', root, '--listen', 'tcp://0.0.0.0:0'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(open.status).toBe(1);
    expect(open.stderr).toMatch(
      /tcp:\/\/0\.0\.0\.0:0 is not a loopback address: it needs --tls-cert/,
    );
  });

  it('refuses contexts beyond its limits with 413', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const config = join(work, 'limits.json');
    await writeFile(
      config,
      JSON.stringify({ limits: { files: 3, contextBytes: 2000, pathBytes: 40 } }),
    );
    const service = await startTbuildService({ root, args: ['--config', config] });
    try {
      const tooMany = await submit(
        service,
        await dockerfileContext('FROM busybox\n', { a: 'a', b: 'b', c: 'c' }),
      );
      const tooBig = await submit(
        service,
        await dockerfileContext('FROM busybox\n', { big: 'x'.repeat(5000) }),
      );
      const tooLong = await submit(
        service,
        await dockerfileContext('FROM busybox\n', { ['n'.repeat(60)]: 'x' }),
      );
      for (const response of [tooMany, tooBig, tooLong]) {
        expect(response.status).toBe(413);
        expect(await json(response)).toMatchObject({ code: 'TB_SERVICE_LIMIT' });
      }
      const fits = await submit(service, await dockerfileContext('FROM busybox\n'));
      expect(fits.status).toBe(202);
    } finally {
      await service.stop();
    }
  });

  it('after a kill -9 mid-build, a restart marks the build failed and builds again on a sound store', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const first = await startTbuildService({ root });
    const sleeper = await dockerfileContext('FROM busybox\nRUN echo partial > /p && sleep 300\n');
    const { id } = await json<Submitted>(await submit(first, sleeper, '?no-cache=true'));
    await waitForStatus(first, id, ['running']);
    await waitFor('the RUN to start', async () => {
      const { steps } = await record(first, id);
      return steps.some((step) => step.name.includes('RUN') && step.started !== undefined)
        ? true
        : undefined;
    });
    await first.kill();

    const second = await startTbuildService({ root });
    try {
      const after = await record(second, id);
      expect(after.status).toBe('failed');
      expect(after.error).toEqual({ code: 'TB_SERVICE_STOPPING', message: 'server restarted' });
      const next = await json<Submitted>(
        await submit(
          second,
          await dockerfileContext('FROM busybox\nRUN echo after-restart > /a\n'),
          '?tag=svc/after:1',
        ),
      );
      expect(await waitForStatus(second, next.id, ['succeeded', 'failed'])).toBe('succeeded');
      // No context of a build is left behind once builds ended.
      expect(await readdir(join(root, 'v1', 'service', 'contexts'))).toEqual([]);
    } finally {
      await second.stop();
    }
  });

  it('on SIGTERM stops taking builds and lets a running one finish', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const service = await startTbuildService({ root });
    const slow = await dockerfileContext(
      'FROM busybox\nRUN i=0; while [ ! -e /tmp/never ] && [ $i -lt 30 ]; do i=$((i+1)); sleep 0.1; done; echo finished\n',
    );
    const { id } = await json<Submitted>(await submit(service, slow, '?no-cache=true'));
    await waitForStatus(service, id, ['running']);
    const stopped = service.stop();
    expect(await stopped).toBe(0);
    const again = await startTbuildService({ root });
    try {
      expect((await record(again, id)).status).toBe('succeeded');
    } finally {
      await again.stop();
    }
  });

  it('answers 100 malformed requests with 4xx, writes nothing outside a context, and stays healthy', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const service = await startTbuildService({ root });
    const outside = join(work, 'escaped');
    try {
      const hostile: Buffer[] = [
        await tarOf([{ name: '../escaped', content: 'x' }]),
        await tarOf([{ name: outside, content: 'x' }]),
        await tarOf([{ name: 'dev', type: 'character-device' }]),
        await tarOf([{ name: 'up', type: 'symlink', linkname: '../../..' }]),
        await tarOf([
          { name: 'link', type: 'symlink', linkname: '.' },
          { name: 'link/../../escaped', content: 'x' },
        ]),
        await tarOf([{ name: 'hard', type: 'link', linkname: '../../etc/passwd' }]),
        Buffer.from('this is not a tar at all, just text that goes on'.repeat(20)),
        Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03]),
      ];
      const good = await dockerfileContext('FROM busybox\n');
      const requests: (() => Promise<Response>)[] = [
        ...hostile.map((body) => () => submit(service, body)),
        () => submit(service, good, '?bogus=1'),
        () => submit(service, good, '?no-cache=maybe'),
        () => submit(service, good, '?output=type=local,dest=/tmp/x'),
        () => submit(service, good, '?allow=network.host'),
        () => submit(service, good, '?secret=id=anything'),
        () => submit(service, good, '?dockerfile=../Dockerfile'),
        () => submit(service, good, '?target=a&target=b'),
        () => submit(service, good, '?platform=linux/s390x'),
        () => submit(service, good, '?tag=UPPER/case'),
        () =>
          fetch(`${service.url}/v1/builds`, {
            method: 'POST',
            body: good,
            headers: { 'content-type': 'text/plain' },
          }),
        () => fetch(`${service.url}/v1/builds/nope`),
        () => fetch(`${service.url}/v1/builds/nope/events`),
        () => fetch(`${service.url}/v1/builds?limit=-1`),
        () => fetch(`${service.url}/v1/builds?status=weird`),
        () => fetch(`${service.url}/v2/whatever`),
        () => fetch(`${service.url}/v1/builds`, { headers: { 'x-huge': 'x'.repeat(100_000) } }),
      ];
      // Pad to 100 with random bytes and random query noise.
      let seed = 42;
      const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      while (requests.length < 100) {
        const bytes = Buffer.from(
          Array.from({ length: 1 + Math.floor(random() * 2048) }, () => Math.floor(random() * 256)),
        );
        const key =
          ['tag', 'build-arg', 'label', 'output', 'no-cache'][Math.floor(random() * 5)] ?? 'tag';
        requests.push(() =>
          submit(
            service,
            bytes,
            `?${key}=${encodeURIComponent(bytes.toString('latin1').slice(0, 20))}`,
          ),
        );
      }
      const statuses: number[] = [];
      for (const request of requests) {
        const response = await request().catch(() => undefined);
        statuses.push(response?.status ?? 0);
        await response?.arrayBuffer().catch(() => undefined);
      }
      const unexpected = statuses
        .map((status, index) => ({ status, index }))
        .filter(({ status }) => status < 400 || status >= 500);
      expect(unexpected).toEqual([]);
      expect(existsSync(outside)).toBe(false);
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
      const ok = await json<Submitted>(await submit(service, good));
      expect(await waitForStatus(service, ok.id, ['succeeded', 'failed'])).toBe('succeeded');
    } finally {
      await service.stop();
    }
  });
});
