import type { Redis } from 'ioredis';
import type { BuildRecord } from '../builds/build-record.js';
import { BUILD_INDEX, buildKeys } from './cluster-keys.js';
import { LuaScript } from './lua-script.js';

/**
 * A node's claim on a build it took from a queue: `run` with its attempt
 * number (the fence every later write names); `done` when the build already
 * ended (cancelled while queued, or finished by an earlier attempt); `taken`
 * when another job holds it (the affinity's fallback and its primary: only
 * one runs); `gone` when the record expired.
 */
export type Claim =
  | {
      readonly kind: 'run';
      readonly attempt: number;
      readonly previousNode: string;
      readonly cancelled: boolean;
    }
  | { readonly kind: 'done' | 'taken' | 'gone' };

/**
 * The first attempt of a build claims it from any job; a later one only from
 * the job that made the earlier attempt: that job came back because BullMQ
 * found it stalled (its node stopped renewing the lock), so its node is gone.
 */
const CLAIM = new LuaScript(
  1,
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
if redis.call('HGET', KEYS[1], 'final') == '1' then return {'done'} end
local attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0')
local previous = redis.call('HGET', KEYS[1], 'node') or ''
if attempt > 0 and redis.call('HGET', KEYS[1], 'runner') ~= ARGV[2] then return {'taken'} end
attempt = attempt + 1
redis.call('HSET', KEYS[1], 'attempt', attempt, 'node', ARGV[1], 'runner', ARGV[2])
return {'run', tostring(attempt), previous, redis.call('HGET', KEYS[1], 'cancel') or '0'}
`,
);

/** Every write of a running attempt is fenced: it lands only while that attempt holds the build. */
const FENCE = `
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'final') == '1' then
  return 0
end
`;

/** A status line, numbered one past the stream's length (entries are never removed). */
const APPEND_EVENT = new LuaScript(
  2,
  `${FENCE}
local n = redis.call('XLEN', KEYS[2]) + 1
redis.call('XADD', KEYS[2], n .. '-0', 's', ARGV[2], 'e', ARGV[3])
if n == 1 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
return n
`,
);

const APPEND_LOG = new LuaScript(
  2,
  `${FENCE}
local length = redis.call('APPEND', KEYS[2], ARGV[2])
if length == string.len(ARGV[2]) then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
return 1
`,
);

const SAVE_RECORD = new LuaScript(
  1,
  `${FENCE}
redis.call('HSET', KEYS[1], 'record', ARGV[2])
return 1
`,
);

/**
 * The build's end, written once: the final record and the stream's `end`
 * entry, only while the attempt holds the build (`*`: whoever holds it, for a
 * build found orphaned) and it has not ended. Returns 1 when this call ended it.
 */
const FINISH = new LuaScript(
  3,
  `
if redis.call('HGET', KEYS[1], 'final') == '1' then return 0 end
if ARGV[1] ~= '*' and redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'final', '1')
local n = redis.call('XLEN', KEYS[2]) + 1
redis.call('XADD', KEYS[2], n .. '-0', 'end', ARGV[3])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return 1
`,
);

/** Marks a cancel wanted on a build that has not ended; returns its attempt (0: still queued). */
const WANT_CANCEL = new LuaScript(
  1,
  `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'final') == '1' then return -1 end
redis.call('HSET', KEYS[1], 'cancel', '1')
return tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0')
`,
);

/** Where a build stands in Redis: its record plus who runs it. */
export interface SharedRecord {
  readonly record: BuildRecord;
  readonly attempt: number;
  readonly node?: string;
  readonly final: boolean;
}

/**
 * Build records, their event streams and logs in Redis, shared by every node
 * (keys in cluster-keys.ts), each kept `ttlSeconds`. The state changes that
 * must happen once (a claim, the end) are Lua scripts, atomic in Redis.
 */
export class SharedRecords {
  readonly #redis: Redis;
  readonly #ttl: number;

  constructor(redis: Redis, ttlSeconds: number) {
    this.#redis = redis;
    this.#ttl = ttlSeconds;
  }

  /** A new queued build: its record, listed in the index. */
  async create(record: BuildRecord): Promise<void> {
    const keys = buildKeys(record.id);
    await this.#redis
      .multi()
      .hset(keys.build, 'record', JSON.stringify(record), 'attempt', '0', 'final', '0')
      .expire(keys.build, this.#ttl)
      .zadd(BUILD_INDEX, 0, record.id)
      .exec();
  }

  /** Forgets a build that was never queued. */
  async remove(id: string): Promise<void> {
    const keys = buildKeys(id);
    await this.#redis
      .multi()
      .del(keys.build, keys.events, keys.log, keys.context)
      .zrem(BUILD_INDEX, id)
      .exec();
  }

  async get(id: string): Promise<SharedRecord | undefined> {
    const fields = await this.#redis.hgetall(buildKeys(id).build);
    return fields['record'] === undefined ? undefined : shared(fields);
  }

  /** Records by id, in the order asked; those gone (expired) are left out and unlisted. */
  async getMany(ids: readonly string[]): Promise<SharedRecord[]> {
    if (ids.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const id of ids) pipeline.hgetall(buildKeys(id).build);
    const replies = (await pipeline.exec()) ?? [];
    const found: SharedRecord[] = [];
    const gone: string[] = [];
    replies.forEach(([, fields], index) => {
      const record = fields as Record<string, string> | null;
      if (record?.['record'] === undefined) gone.push(ids[index] ?? '');
      else found.push(shared(record));
    });
    if (gone.length > 0) await this.#redis.zrem(BUILD_INDEX, ...gone);
    return found;
  }

  /** Up to `count` ids below `before` (or the newest), newest first. */
  async idsBefore(before: string | undefined, count: number): Promise<string[]> {
    return this.#redis.zrevrangebylex(
      BUILD_INDEX,
      before === undefined ? '+' : `(${before}`,
      '-',
      'LIMIT',
      0,
      count,
    );
  }

  async claim(id: string, node: string, runner: string): Promise<Claim> {
    const reply = (await CLAIM.run(this.#redis, [buildKeys(id).build], [node, runner])) as string[];
    if (reply[0] !== 'run') return { kind: reply[0] as 'done' | 'taken' | 'gone' };
    return {
      kind: 'run',
      attempt: Number(reply[1]),
      previousNode: reply[2] ?? '',
      cancelled: reply[3] === '1',
    };
  }

  /** Each write below returns false once the attempt no longer holds the build. */
  async appendEvent(id: string, attempt: number, line: string, event: string): Promise<boolean> {
    const keys = buildKeys(id);
    const reply = await APPEND_EVENT.run(
      this.#redis,
      [keys.build, keys.events],
      [attempt, line, event, this.#ttl],
    );
    return reply !== 0;
  }

  async appendLog(id: string, attempt: number, text: string): Promise<boolean> {
    const keys = buildKeys(id);
    return (
      (await APPEND_LOG.run(this.#redis, [keys.build, keys.log], [attempt, text, this.#ttl])) !== 0
    );
  }

  async save(record: BuildRecord, attempt: number): Promise<boolean> {
    const reply = await SAVE_RECORD.run(
      this.#redis,
      [buildKeys(record.id).build],
      [attempt, JSON.stringify(record)],
    );
    return reply !== 0;
  }

  /** Ends the build once; `attempt` `*` ends it whoever holds it. True when this call ended it. */
  async finish(record: BuildRecord, attempt: number | '*'): Promise<boolean> {
    const keys = buildKeys(record.id);
    const end = JSON.stringify({
      status: record.status,
      ...(record.error === undefined ? {} : { error: record.error }),
    });
    const reply = await FINISH.run(
      this.#redis,
      [keys.build, keys.events, keys.log],
      [attempt, JSON.stringify(record), end, this.#ttl],
    );
    return reply === 1;
  }

  /** Asks for a cancel; the attempt running it, 0 while queued, -1 when it ended or is unknown. */
  async wantCancel(id: string): Promise<number> {
    return Number(await WANT_CANCEL.run(this.#redis, [buildKeys(id).build], []));
  }

  async cancelWanted(id: string): Promise<boolean> {
    return (await this.#redis.hget(buildKeys(id).build, 'cancel')) === '1';
  }
}

function shared(fields: Record<string, string>): SharedRecord {
  const record = JSON.parse(fields['record'] ?? '{}') as BuildRecord;
  const attempt = Number(fields['attempt'] ?? '0');
  const node = fields['node'];
  return {
    // Who ran it and how often: shown by every node's API.
    record: {
      ...record,
      ...(node === undefined ? {} : { node }),
      ...(attempt > 0 ? { attempt } : {}),
    },
    attempt,
    ...(node === undefined ? {} : { node }),
    final: fields['final'] === '1',
  };
}
