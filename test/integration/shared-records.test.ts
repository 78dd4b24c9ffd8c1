import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildRecord } from '../../daemon/builds/build-record.js';
import { buildKeys } from '../../daemon/cluster/cluster-keys.js';
import { followStream, type StreamEntry } from '../../daemon/cluster/event-follower.js';
import { SharedRecords } from '../../daemon/cluster/shared-records.js';
import { missingRequirements, requires, startRedis, type TestRedis } from '../harness/index.js';

/**
 * The shared records' state changes on a real redis-server: who may run a
 * build (claims), that a superseded attempt can write nothing, that a build
 * ends once, and that the event stream numbers and resumes as SSE needs.
 */

let server: TestRedis | undefined;
let redis: Redis | undefined;

beforeAll(async () => {
  if (missingRequirements(['redis-server']).length > 0) return;
  server = await startRedis();
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

function record(id: string, status: BuildRecord['status'] = 'queued'): BuildRecord {
  return { id, status, createdAt: new Date(0).toISOString(), owner: 'ci', options: {}, steps: [] };
}

function connected(): { redis: Redis; records: SharedRecords } {
  if (redis === undefined) throw new Error('no redis');
  return { redis, records: new SharedRecords(redis, 3600) };
}

describe('SharedRecords on Redis', () => {
  it('lets one job claim a queued build, the same job take it again after a stall, and no other', async (ctx) => {
    requires(ctx, 'redis-server');
    const { records } = connected();
    await records.create(record('claim1'));
    expect(await records.claim('claim1', 'a', 'builds/claim1')).toMatchObject({
      kind: 'run',
      attempt: 1,
      previousNode: '',
    });
    // The affinity's fallback copy of the job: the build is taken.
    expect(await records.claim('claim1', 'b', 'builds/claim1-fallback')).toEqual({
      kind: 'taken',
    });
    // The same job back from BullMQ's stalled check, on another node: attempt 2.
    expect(await records.claim('claim1', 'b', 'builds/claim1')).toMatchObject({
      kind: 'run',
      attempt: 2,
      previousNode: 'a',
    });
    expect(await records.claim('nope', 'a', 'builds/nope')).toEqual({ kind: 'gone' });
  });

  it('refuses every write of a superseded attempt and ends a build once', async (ctx) => {
    requires(ctx, 'redis-server');
    const { redis, records } = connected();
    await records.create(record('fence1'));
    await records.claim('fence1', 'a', 'builds/fence1');
    expect(await records.appendEvent('fence1', 1, '{"n":1}', '{}')).toBe(true);
    expect(await records.appendLog('fence1', 1, 'from a\n')).toBe(true);
    await records.claim('fence1', 'b', 'builds/fence1');
    expect(await records.appendEvent('fence1', 1, '{"late":true}', '{}')).toBe(false);
    expect(await records.appendLog('fence1', 1, 'late\n')).toBe(false);
    expect(await records.save(record('fence1', 'running'), 1)).toBe(false);
    expect(await records.finish(record('fence1', 'failed'), 1)).toBe(false);
    expect(await records.appendEvent('fence1', 2, '{"n":2}', '{}')).toBe(true);
    expect(await records.finish(record('fence1', 'succeeded'), 2)).toBe(true);
    expect(await records.finish(record('fence1', 'failed'), 2)).toBe(false);
    expect(await records.finish(record('fence1', 'failed'), '*')).toBe(false);
    expect(await records.appendEvent('fence1', 2, '{"after":true}', '{}')).toBe(false);
    const shared = await records.get('fence1');
    expect(shared).toMatchObject({ final: true, attempt: 2, node: 'b' });
    expect(shared?.record.status).toBe('succeeded');
    expect(await redis.get(buildKeys('fence1').log)).toBe('from a\n');
    expect(await redis.xlen(buildKeys('fence1').events)).toBe(3);
    // Ended: no job claims it again.
    expect(await records.claim('fence1', 'c', 'builds/fence1')).toEqual({ kind: 'done' });
  });

  it('cancels a queued build where it is, and flags a running one for its node', async (ctx) => {
    requires(ctx, 'redis-server');
    const { records } = connected();
    await records.create(record('cancel1'));
    expect(await records.wantCancel('cancel1')).toBe(0);
    expect(await records.finish(record('cancel1', 'cancelled'), 0)).toBe(true);
    expect(await records.claim('cancel1', 'a', 'builds/cancel1')).toEqual({ kind: 'done' });
    expect(await records.wantCancel('cancel1')).toBe(-1);
    await records.create(record('cancel2'));
    await records.claim('cancel2', 'a', 'builds/cancel2');
    expect(await records.wantCancel('cancel2')).toBe(1);
    expect(await records.cancelWanted('cancel2')).toBe(true);
    // A queued build claimed after the flag was set hears it from its claim.
    await records.create(record('cancel3'));
    await records.wantCancel('cancel3');
    expect(await records.claim('cancel3', 'a', 'builds/cancel3')).toMatchObject({
      kind: 'run',
      cancelled: true,
    });
  });

  it('numbers the event stream from 1 and resumes after any number, then ends', async (ctx) => {
    requires(ctx, 'redis-server');
    const { redis, records } = connected();
    await records.create(record('stream1'));
    await records.claim('stream1', 'a', 'builds/stream1');
    for (const n of [1, 2, 3]) await records.appendEvent('stream1', 1, `line${String(n)}`, '{}');
    const seen: StreamEntry[] = [];
    const ended = new Promise<void>((resolve) => {
      followStream(redis, buildKeys('stream1').events, 1, (entry) => {
        seen.push(entry);
        if (entry.end !== undefined) resolve();
      });
    });
    await records.appendEvent('stream1', 1, 'line4', '{}');
    await records.finish(record('stream1', 'succeeded'), 1);
    await ended;
    expect(seen.map((entry) => entry.line ?? entry.end)).toEqual([
      'line2',
      'line3',
      'line4',
      '{"status":"succeeded"}',
    ]);
    expect(seen.map((entry) => entry.n)).toEqual([2, 3, 4, 5]);
  });

  it('lists ids newest first and drops the ids of expired records', async (ctx) => {
    requires(ctx, 'redis-server');
    const { redis, records } = connected();
    for (const id of ['list-a', 'list-b', 'list-c']) await records.create(record(id));
    await redis.del(buildKeys('list-b').build);
    const ids = await records.idsBefore('list-d', 10);
    expect(ids.slice(0, 3)).toEqual(['list-c', 'list-b', 'list-a']);
    const found = await records.getMany(ids.slice(0, 3));
    expect(found.map((shared) => shared.record.id)).toEqual(['list-c', 'list-a']);
    expect(await records.idsBefore('list-d', 2)).toEqual(['list-c', 'list-a']);
  });
});
