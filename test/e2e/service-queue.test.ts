import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  missingRequirements,
  requires,
  rootWithBusybox,
  startRedis,
  startRegistry,
  startTbuildService,
  type TestRedis,
  type TestRegistry,
  type TestService,
  tarOfFiles,
} from '../harness/index.js';

/**
 * Several `tbuild serve --queue` nodes on one Redis (docs/service.md, "Many
 * machines"): two nodes with roots of their own, a real redis-server and the
 * real registry. Builds sent to either node run on either, every node answers
 * for every build, a cancel reaches the node running the build, secrets cross
 * Redis only sealed, a build follows the node that built it last, and a node
 * killed mid-build loses nothing: another takes the build and ends it, once.
 */

const NEEDS = ['root', 'overlay', 'busybox', 'redis-server', 'docker-registry'] as const;

/** Generous: the machine is shared and busy; nothing here waits on a timing race. */
const DEADLINE_MS = 300_000;

interface BuildView {
  readonly id: string;
  readonly status: string;
  readonly node?: string;
  readonly attempt?: number;
  readonly steps: { name: string; started?: string; finished?: string; cached?: boolean }[];
  readonly result?: { manifestDigest: string; tags: string[] };
  readonly error?: { code: string; message: string };
}

async function submit(
  node: TestService,
  files: Record<string, string>,
  query = '',
): Promise<string> {
  const response = await fetch(`${node.url}/v1/builds${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-tar' },
    body: await tarOfFiles(files),
  });
  const body = (await response.json()) as { id: string };
  expect(response.status, JSON.stringify(body)).toBe(202);
  return body.id;
}

async function view(node: TestService, id: string): Promise<BuildView> {
  const response = await fetch(`${node.url}/v1/builds/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as BuildView;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function waitForEnd(node: TestService, id: string): Promise<BuildView> {
  return waitFor(`build ${id} to end`, async () => {
    const build = await view(node, id);
    return ['succeeded', 'failed', 'cancelled'].includes(build.status) ? build : undefined;
  });
}

/** The SSE messages of a build's events until `end`, from `after` on. */
async function readEvents(node: TestService, id: string, after = 0) {
  const response = await fetch(`${node.url}/v1/builds/${id}/events`, {
    headers: after > 0 ? { 'last-event-id': String(after) } : {},
  });
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

function warningsOf(events: { data: string }[]): string[] {
  return events
    .flatMap((event) => {
      try {
        return (JSON.parse(event.data) as { warnings?: { short: string }[] }).warnings ?? [];
      } catch {
        return [];
      }
    })
    .map((warning) => Buffer.from(warning.short, 'base64').toString('utf8'));
}

/** Every value a key holds, as text (hashes, streams, sets and lists by their members). */
async function valuesOf(client: Redis, key: string): Promise<string> {
  switch (await client.type(key)) {
    case 'string':
      return (await client.getBuffer(key))?.toString('latin1') ?? '';
    case 'hash':
      return Object.entries(await client.hgetall(key))
        .flat()
        .join('\n');
    case 'stream':
      return JSON.stringify(await client.xrange(key, '-', '+'));
    case 'zset':
      return (await client.zrange(key, 0, -1)).join('\n');
    case 'set':
      return (await client.smembers(key)).join('\n');
    case 'list':
      return (await client.lrange(key, 0, -1)).join('\n');
    default:
      return '';
  }
}

let redis: TestRedis | undefined;
let registry: TestRegistry | undefined;
let work = '';
const roots: string[] = [];
const nodes = new Map<string, TestService>();

async function startNode(name: string, root: string, sealing = true): Promise<TestService> {
  const config = join(work, `${name}.json`);
  await writeFile(
    config,
    JSON.stringify({
      queue: {
        url: redis?.url,
        node: name,
        ...(sealing ? { secretKeyFile: join(work, 'queue.key') } : {}),
        // Short, so a killed node's build moves on soon; nothing below depends on how soon.
        lockSeconds: 6,
        // Long, so a build routed to the node that built it last waits for that node.
        affinityWaitSeconds: 120,
      },
    }),
  );
  const node = await startTbuildService({
    root,
    args: ['--config', config, '--max-concurrent-builds', '2'],
  });
  nodes.set(name, node);
  return node;
}

function node(name: string): TestService {
  const found = nodes.get(name);
  if (found === undefined) throw new Error(`node ${name} is not running`);
  return found;
}

beforeAll(async () => {
  // Each test says which requirement is missing; nothing is started without them.
  if (missingRequirements([...NEEDS]).length > 0) return;
  redis = await startRedis();
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tbuild-queue-'));
  await writeFile(join(work, 'queue.key'), Buffer.from('0123456789abcdef0123456789abcdef'));
  for (const name of ['a', 'b']) {
    const root = await rootWithBusybox();
    roots.push(root);
    await startNode(name, root);
  }
}, DEADLINE_MS);

afterAll(async () => {
  for (const service of nodes.values()) await service.stop();
  await redis?.stop();
  await registry?.stop();
  for (const dir of [...roots, work])
    if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('tbuild serve --queue: nodes sharing a queue in Redis', () => {
  it('runs 20 builds sent to either node, pushes them, and answers for every build on both nodes', async (ctx) => {
    requires(ctx, ...NEEDS);
    const ids: string[] = [];
    for (let index = 0; index < 20; index++) {
      const receiver = node(index % 2 === 0 ? 'a' : 'b');
      const tag = `${registry?.host ?? ''}/queue/app${String(index)}:1`;
      ids.push(
        await submit(
          receiver,
          {
            Dockerfile: `FROM busybox\nCOPY n.txt /n.txt\nRUN cat /n.txt > /copy\n`,
            'n.txt': `build ${String(index)}\n`,
          },
          `?tag=${encodeURIComponent(tag)}&push=true`,
        ),
      );
    }
    for (const id of ids) {
      const ended = await waitForEnd(node('a'), id);
      expect(ended.status, JSON.stringify(ended.error)).toBe('succeeded');
      expect(['a', 'b']).toContain(ended.node);
      // The same record from the other node, and the same end on its event stream.
      expect(await view(node('b'), id)).toEqual(ended);
      const events = await readEvents(node('b'), id);
      expect(events.at(-1)).toMatchObject({ event: 'end', data: '{"status":"succeeded"}' });
      const statuses = events.filter((event) => event.event === undefined);
      expect(statuses.map((event) => Number(event.id))).toEqual(
        statuses.map((_, index) => index + 1),
      );
      // Resumed on the other node after the last id but one: one status, then the end.
      const resumed = await readEvents(node('a'), id, statuses.length - 1);
      expect(resumed.map((event) => event.id ?? event.event)).toEqual([
        String(statuses.length),
        'end',
      ]);
    }
    // The pushed images are in the registry.
    for (let index = 0; index < 20; index += 7) {
      const manifest = await fetch(
        `http://${registry?.host ?? ''}/v2/queue/app${String(index)}/manifests/1`,
        { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } },
      );
      expect(manifest.status).toBe(200);
    }
    // Logs and the list, from both nodes.
    const log = await (await fetch(`${node('b').url}/v1/builds/${ids[3] ?? ''}/logs`)).text();
    expect(log).toContain('RUN cat /n.txt');
    expect(await (await fetch(`${node('a').url}/v1/builds/${ids[3] ?? ''}/logs`)).text()).toBe(log);
    for (const name of ['a', 'b']) {
      const listed = (await (await fetch(`${node(name).url}/v1/builds?limit=1000`)).json()) as {
        builds: { id: string }[];
      };
      expect(listed.builds.map((build) => build.id)).toEqual(expect.arrayContaining(ids));
    }
  });

  it('sends a build of the same Dockerfile and context shape to the node that built it last', async (ctx) => {
    requires(ctx, ...NEEDS);
    const files = (text: string): Record<string, string> => ({
      Dockerfile: 'FROM busybox\nCOPY app.txt /app.txt\nRUN wc -c /app.txt\n',
      'app.txt': text,
    });
    const first = await waitForEnd(node('a'), await submit(node('a'), files('version 1\n')));
    expect(first.status).toBe('succeeded');
    const builtOn = first.node ?? '';
    // Sent to the other node each time; the queue routes them back (by chance: 1 in 8).
    const other = builtOn === 'a' ? 'b' : 'a';
    for (const version of [2, 3, 4]) {
      const next = await waitForEnd(
        node(other),
        await submit(node(other), files(`version ${String(version)}\n`)),
      );
      expect(next.status).toBe('succeeded');
      expect(next.node).toBe(builtOn);
    }
  });

  it('cancels a running build from the node that did not receive it', async (ctx) => {
    requires(ctx, ...NEEDS);
    const id = await submit(node('a'), {
      Dockerfile: 'FROM busybox\nRUN echo started && sleep 300\n',
    });
    await waitFor('the sleeper to run', async () => {
      const build = await view(node('b'), id);
      return build.steps.some((step) => step.name.includes('sleep 300') && step.started)
        ? true
        : undefined;
    });
    const response = await fetch(`${node('b').url}/v1/builds/${id}/cancel`, { method: 'POST' });
    expect(response.status).toBe(202);
    const ended = await waitForEnd(node('a'), id);
    expect(ended.status).toBe('cancelled');
  });

  it('keeps a client secret sealed in Redis and opens it on the node that runs the build', async (ctx) => {
    requires(ctx, ...NEEDS);
    const secret = `s3cr3t-${String(Date.now())}`;
    // The Dockerfile names only the secret's digest: its lines end up in step names.
    const digest = createHash('sha256').update(secret).digest('hex');
    const form = new FormData();
    form.append(
      'context',
      new Blob([
        await tarOfFiles({
          Dockerfile:
            'FROM busybox\nRUN --mount=type=secret,id=token ' +
            `test "$(sha256sum < /run/secrets/token | cut -c1-64)" = "${digest}" && echo secret-seen\n`,
        }),
      ]),
      'context.tar',
    );
    form.append('secret:token', secret);
    const response = await fetch(`${node('b').url}/v1/builds`, { method: 'POST', body: form });
    const { id } = (await response.json()) as { id: string };
    expect(response.status).toBe(202);
    // While it waits or runs, and after: no key in Redis holds the value in clear.
    const client = new Redis(redis?.url ?? '');
    try {
      const ended = await waitForEnd(node('a'), id);
      expect(ended.status, JSON.stringify(ended.error)).toBe('succeeded');
      for (const key of await client.keys('*'))
        expect(await valuesOf(client, key), key).not.toContain(secret);
    } finally {
      client.disconnect();
    }
  });

  it('gives every build the config’s registry cache, so a node with an empty store reuses what another built', async (ctx) => {
    requires(ctx, ...NEEDS);
    const cacheRef = `${registry?.host ?? ''}/queue/cache:builds`;
    const config = join(work, 'cache.json');
    await writeFile(
      config,
      JSON.stringify({
        cacheFrom: [`type=registry,ref=${cacheRef}`],
        cacheTo: [`type=registry,ref=${cacheRef},mode=max`],
      }),
    );
    const files = {
      Dockerfile: 'FROM busybox\nCOPY c.txt /c.txt\nRUN cat /c.txt > /made && echo made-once\n',
      'c.txt': `cache ${String(Date.now())}\n`,
    };
    // Two services of their own (each its own empty store), one after the other.
    const outcomes = [];
    for (const name of ['first', 'second']) {
      const root = await rootWithBusybox();
      roots.push(root);
      const service = await startTbuildService({ root, args: ['--config', config] });
      try {
        const ended = await waitForEnd(service, await submit(service, files));
        expect(ended.status, `${name}: ${JSON.stringify(ended.error)}`).toBe('succeeded');
        outcomes.push(ended);
      } finally {
        await service.stop();
      }
    }
    const run = (build: BuildView | undefined) =>
      build?.steps.find((step) => step.name.includes('RUN cat /c.txt'));
    expect(run(outcomes[0])).toMatchObject({ cached: false });
    expect(run(outcomes[1])).toMatchObject({ cached: true });
  });

  it('runs a build with secrets on the node that received it when secrets cannot be sealed, and fails it if that node dies', async (ctx) => {
    requires(ctx, ...NEEDS);
    const root = await rootWithBusybox();
    roots.push(root);
    const keyless = await startNode('c', root, false);
    const secretBuild = async (command: string): Promise<string> => {
      const form = new FormData();
      form.append(
        'context',
        new Blob([
          await tarOfFiles({
            Dockerfile: `FROM busybox\nRUN --mount=type=secret,id=token test -s /run/secrets/token && ${command}\n`,
          }),
        ]),
        'context.tar',
      );
      form.append('secret:token', 'pinned-secret');
      const response = await fetch(`${keyless.url}/v1/builds`, { method: 'POST', body: form });
      expect(response.status).toBe(202);
      return ((await response.json()) as { id: string }).id;
    };
    const quick = await waitForEnd(node('a'), await secretBuild('echo pinned-ok'));
    expect(quick).toMatchObject({ status: 'succeeded', node: 'c' });
    const id = await secretBuild('sleep 300');
    await waitFor('the pinned build to run', async () => {
      const build = await view(node('a'), id);
      return build.steps.some((step) => step.name.includes('sleep 300') && step.started)
        ? true
        : undefined;
    });
    await keyless.kill();
    nodes.delete('c');
    const ended = await waitForEnd(node('a'), id);
    expect(ended.status).toBe('failed');
    expect(ended.error?.code).toBe('TB_SERVICE_NODE_LOST');
  });

  it('serves a Docker API build from the queue, its progress streamed from whichever node runs it', async (ctx) => {
    requires(ctx, ...NEEDS);
    const response = await fetch(`${node('b').url}/build?t=queue/docker:1`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-tar' },
      body: await tarOfFiles({ Dockerfile: 'FROM busybox\nRUN echo docker-api-output\n' }),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('docker-api-output');
    expect(text).toMatch(/"aux":\{"ID":"sha256:[0-9a-f]{64}"\}/);
    expect(text).toContain('Successfully tagged queue/docker:1');
  });

  it('finishes a build on the other node when its node is killed mid-build, once, and says so', async (ctx) => {
    requires(ctx, ...NEEDS);
    const id = await submit(node('a'), {
      Dockerfile: 'FROM busybox\nRUN echo before && sleep 15 && echo after\n',
    });
    const running = await waitFor('the build to run its RUN step', async () => {
      const build = await view(node('a'), id);
      return build.steps.some((step) => step.name.includes('sleep 15') && step.started)
        ? build
        : undefined;
    });
    const victim = running.node ?? '';
    const survivor = victim === 'a' ? 'b' : 'a';
    await node(victim).kill();
    nodes.delete(victim);
    const ended = await waitForEnd(node(survivor), id);
    expect(ended.status, JSON.stringify(ended.error)).toBe('succeeded');
    expect(ended.node).toBe(survivor);
    expect(ended.attempt).toBe(2);
    // A follower sees the retry; the stream ends once.
    const events = await readEvents(node(survivor), id);
    expect(warningsOf(events).join('\n')).toContain(
      `retrying on node ${survivor} (attempt 2): node ${victim} stopped`,
    );
    expect(events.filter((event) => event.event === 'end')).toHaveLength(1);
    const log = await (await fetch(`${node(survivor).url}/v1/builds/${id}/logs`)).text();
    expect(log).toContain('after');
    // The killed node comes back under its name, on its root.
    await startNode(victim, roots[victim === 'a' ? 0 : 1] ?? '');
  });

  it('takes over the queue of a killed node a build was routed to, and finishes that build elsewhere', async (ctx) => {
    requires(ctx, ...NEEDS);
    const files = (seconds: number): Record<string, string> => ({
      Dockerfile: 'FROM busybox\nCOPY s.txt /s.txt\nRUN sleep "$(cat /s.txt)" && echo slept\n',
      's.txt': `${String(seconds)}\n`,
    });
    // A quick build of this shape first: the next one is routed to the node that ran it.
    const warm = await waitForEnd(node('a'), await submit(node('a'), files(0)));
    expect(warm.status).toBe('succeeded');
    const victim = warm.node ?? '';
    const survivor = victim === 'a' ? 'b' : 'a';
    const id = await submit(node(survivor), files(15));
    await waitFor('the build to run its RUN step on the node that built it last', async () => {
      const build = await view(node(survivor), id);
      return build.steps.some((step) => step.name.includes('sleep') && step.started)
        ? build
        : undefined;
    });
    expect((await view(node(survivor), id)).node).toBe(victim);
    await node(victim).kill();
    nodes.delete(victim);
    const ended = await waitForEnd(node(survivor), id);
    expect(ended.status, JSON.stringify(ended.error)).toBe('succeeded');
    expect(ended).toMatchObject({ node: survivor, attempt: 2 });
    const events = await readEvents(node(survivor), id);
    expect(warningsOf(events).join('\n')).toContain(`node ${victim} stopped`);
    expect(events.filter((event) => event.event === 'end')).toHaveLength(1);
  });
});
