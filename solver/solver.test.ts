import { describe, expect, it } from 'vitest';
import { sha256Digest, TbuildError, type Digest, type ProgressEvent } from '../core/index.js';
import { createVertex, type ExecOp, type Vertex } from './ir/index.js';
import { Solver, stepOrder } from './solver.js';
import type { ExecContext, ResultCache, SolverOp } from './types.js';

/**
 * The solver is tested with toy ops, as BuildKit's scheduler_test.go does:
 * leaves are image sources, inner vertices merges, and a fake resolver gives
 * each vertex an op that records its calls and concatenates its inputs.
 */
const platform = { os: 'linux', architecture: 'amd64' };

function leaf(name: string): Vertex {
  return createVertex({ kind: 'source', source: { type: 'image', ref: name, platform } }, [], {
    name,
  });
}

/** An inner vertex; its name is in the op so that differently named vertices differ. */
function node(name: string, inputs: Vertex[]): Vertex {
  const op: ExecOp = {
    kind: 'exec',
    args: [name],
    env: [],
    cwd: '/',
    user: '',
    network: 'none',
    security: 'sandbox',
    platform,
    extraHosts: [],
    mounts: inputs.map((_, index) => ({
      type: 'bind',
      target: `/in${String(index)}`,
      input: index,
      selector: '/',
      readonly: true,
      output: false,
    })),
  };
  return createVertex(op, inputs, { name });
}

interface Behaviour {
  /** A volatile source: never cached by key (like a local context). */
  volatile?: boolean;
  /** Consumers key on this content instead of the input's key. */
  content?: () => string;
  /** Which inputs of this vertex are keyed by content. */
  contentInputs?: number[];
  exec?: (inputs: readonly string[], job: ExecContext) => Promise<string>;
}

class Harness {
  readonly execs = new Map<string, number>();
  readonly cacheMaps = new Map<string, number>();
  readonly store = new Map<Digest, string>();
  readonly behaviours = new Map<string, Behaviour>();
  readonly events: ProgressEvent[] = [];
  running = 0;
  maxRunning = 0;

  readonly cache: ResultCache<string> = {
    load: (key) => Promise.resolve(this.store.get(key)),
    save: (key, result) => {
      this.store.set(key, result);
      return Promise.resolve();
    },
  };

  solver(maxParallelism = 4): Solver<string> {
    return new Solver<string>({
      resolveOp: (vertex) => this.op(vertex),
      cache: this.cache,
      maxParallelism,
    });
  }

  solve(
    solver: Solver<string>,
    root: Vertex,
    extra: { signal?: AbortSignal; noCache?: boolean } = {},
  ) {
    return solver.solve(root, {
      signal: extra.signal ?? new AbortController().signal,
      progress: (event) => this.events.push(event),
      ...(extra.noCache === undefined ? {} : { noCache: extra.noCache }),
    });
  }

  count(map: Map<string, number>, name: string): void {
    map.set(name, (map.get(name) ?? 0) + 1);
  }

  op(vertex: Vertex): SolverOp<string> {
    const name = vertex.meta.name;
    const behaviour = this.behaviours.get(name) ?? {};
    return {
      cacheMap: () => {
        this.count(this.cacheMaps, name);
        return Promise.resolve({
          digest: sha256Digest(`op:${name}`),
          cacheable: behaviour.volatile !== true,
          inputs: vertex.inputs.map((_, index) =>
            behaviour.contentInputs?.includes(index) === true
              ? { contentChecksum: (input: string) => Promise.resolve(sha256Digest(input)) }
              : {},
          ),
        });
      },
      exec: async (inputs, job) => {
        this.count(this.execs, name);
        this.running += 1;
        this.maxRunning = Math.max(this.maxRunning, this.running);
        try {
          if (behaviour.exec !== undefined) return await behaviour.exec(inputs, job);
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (behaviour.content !== undefined) return behaviour.content();
          return `${name}(${inputs.join(',')})`;
        } finally {
          this.running -= 1;
        }
      },
    };
  }
}

function diamond(): { a: Vertex; b: Vertex; c: Vertex; d: Vertex } {
  const a = leaf('a');
  const b = node('b', [a]);
  const c = node('c', [a]);
  const d = node('d', [b, c]);
  return { a, b, c, d };
}

describe('Solver', () => {
  it('runs each vertex of a diamond once and composes the results', async () => {
    const h = new Harness();
    const { d } = diamond();
    await expect(h.solve(h.solver(), d)).resolves.toBe('d(b(a()),c(a()))');
    expect(Object.fromEntries(h.execs)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
  });

  it('serves a rebuild from the cache without loading or running the inputs', async () => {
    const h = new Harness();
    const solver = h.solver();
    const { d } = diamond();
    await h.solve(solver, d);
    h.execs.clear();
    h.events.length = 0;
    await expect(h.solve(h.solver(), d)).resolves.toBe('d(b(a()),c(a()))');
    expect(h.execs.size).toBe(0);
    const cachedNames = h.events.flatMap((event) =>
      event.type === 'vertex.cached' ? [event.name] : [],
    );
    // Like BuildKit, the chain below a hit shows as CACHED too, inputs first; nothing is loaded.
    expect(cachedNames).toEqual(['a', 'b', 'c', 'd']);
  });

  it('solves once more when a cached result turns out damaged in use, and only once', async () => {
    const h = new Harness();
    const { d } = diamond();
    let damaged = 1;
    h.behaviours.set('b', {
      exec: () => {
        if (damaged > 0) {
          damaged -= 1;
          return Promise.reject(new TbuildError('TB_SNAPSHOT_CORRUPT', 'snapshot x changed'));
        }
        return Promise.resolve('b(fresh)');
      },
    });
    await expect(h.solve(h.solver(), d)).resolves.toBe('d(b(fresh),c(a()))');
    expect(h.execs.get('b')).toBe(2);

    const again = new Harness();
    again.behaviours.set('b', {
      exec: () => Promise.reject(new TbuildError('TB_SNAPSHOT_CORRUPT', 'snapshot x changed')),
    });
    await expect(again.solve(again.solver(), diamond().d)).rejects.toMatchObject({
      code: 'TB_SNAPSHOT_CORRUPT',
    });
    expect(again.execs.get('b')).toBe(2);
  });

  it('asks a build’s fallback cache after a local miss, names it on CACHED, and reports every key', async () => {
    // Machine A builds the diamond; machine B (an empty local cache) gets A's results as its fallback.
    const a = new Harness();
    const { d } = diamond();
    await a.solve(a.solver(), d);
    const b = new Harness();
    const keys = new Map<string, Digest>();
    const asked: Digest[] = [];
    const result = await b.solver().solve(d, {
      signal: new AbortController().signal,
      progress: (event) => b.events.push(event),
      onKey: (vertex, key) => keys.set(vertex.meta.name, key),
      fallbackCache: {
        load: (key) => {
          asked.push(key);
          const found = a.store.get(key);
          return Promise.resolve(found === undefined ? undefined : { result: found, from: 'ref' });
        },
      },
    });
    expect(result).toBe('d(b(a()),c(a()))');
    expect(b.execs.size).toBe(0);
    expect([...keys.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
    // Only the root is looked up: a hit needs nothing below it.
    expect(asked).toEqual([keys.get('d')]);
    const cached = b.events.flatMap((event) =>
      event.type === 'vertex.cached' ? [`${event.name}:${event.from ?? 'local'}`] : [],
    );
    expect(cached).toEqual(['a:ref', 'b:ref', 'c:ref', 'd:ref']);
  });

  it('re-runs only the changed vertex and its descendants', async () => {
    const h = new Harness();
    const a = leaf('a');
    const b = node('b', [a]);
    const c1 = node('c', [a]);
    await h.solve(h.solver(), node('d', [b, c1]));
    h.execs.clear();
    const c2 = node('c2', [a]);
    await h.solve(h.solver(), node('d', [b, c2]));
    expect(Object.fromEntries(h.execs)).toEqual({ c2: 1, d: 1 });
  });

  it('keys on content where an op reads its input by content', async () => {
    const h = new Harness();
    let context = 'v1';
    h.behaviours.set('context', { volatile: true, content: () => context });
    h.behaviours.set('copy', { contentInputs: [0] });
    const copy = node('copy', [leaf('context')]);
    await h.solve(h.solver(), copy);
    await h.solve(h.solver(), copy);
    expect(h.execs.get('context')).toBe(2);
    expect(h.execs.get('copy')).toBe(1);
    context = 'v2';
    await expect(h.solve(h.solver(), copy)).resolves.toBe('copy(v2)');
    expect(h.execs.get('copy')).toBe(2);
  });

  it('shares work in flight between concurrent builds', async () => {
    const h = new Harness();
    const solver = h.solver();
    const { d } = diamond();
    const results = await Promise.all([h.solve(solver, d), h.solve(solver, d)]);
    expect(results[0]).toBe(results[1]);
    expect(Object.fromEntries(h.execs)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
  });

  it.each([4, 1])(
    'runs a step once for solvers sharing a cache with exclusive keys (two processes, %i slots)',
    async (slots) => {
      const h = new Harness();
      const held = new Map<Digest, Promise<void>>();
      let waited = 0;
      const locked: ResultCache<string> = {
        ...h.cache,
        // An in-memory stand-in for the worker's per-key flock: one holder per key.
        exclusive: async (key) => {
          for (let busy = held.get(key); busy !== undefined; busy = held.get(key)) {
            waited += 1;
            await busy;
          }
          let release: () => void = () => undefined;
          held.set(key, new Promise<void>((resolve) => (release = resolve)));
          return () => {
            held.delete(key);
            release();
            return Promise.resolve();
          };
        },
      };
      const solver = (): Solver<string> =>
        new Solver<string>({
          resolveOp: (vertex) => h.op(vertex),
          cache: locked,
          maxParallelism: slots,
        });
      const { d } = diamond();
      const results = await Promise.all([h.solve(solver(), d), h.solve(solver(), d)]);
      expect(results[0]).toBe(results[1]);
      expect(Object.fromEntries(h.execs)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
      expect(waited).toBeGreaterThan(0);
      expect(h.events.filter((e) => e.type === 'vertex.cached').length).toBe(4);
      expect(held.size).toBe(0);
    },
  );

  it('releases a key whose step failed, so the next holder runs it', async () => {
    const h = new Harness();
    const releases: Digest[] = [];
    let fail = true;
    h.behaviours.set('flaky', {
      exec: () =>
        fail ? Promise.reject(new TbuildError('TB_RUN_FAILED', 'exit 1')) : Promise.resolve('ok'),
    });
    const locked: ResultCache<string> = {
      ...h.cache,
      exclusive: (key) =>
        Promise.resolve(() => {
          releases.push(key);
          return Promise.resolve();
        }),
    };
    const solver = new Solver<string>({ resolveOp: (vertex) => h.op(vertex), cache: locked });
    const flaky = leaf('flaky');
    await expect(h.solve(solver, flaky)).rejects.toMatchObject({ code: 'TB_RUN_FAILED' });
    expect(releases.length).toBe(1);
    fail = false;
    await expect(h.solve(solver, flaky)).resolves.toBe('ok');
    expect(releases.length).toBe(2);
    // A --no-cache build runs regardless, so it takes no lock.
    await h.solve(solver, flaky, { noCache: true });
    expect(releases.length).toBe(2);
  });

  it('keeps shared work running while any build still waits on it', async () => {
    const h = new Harness();
    let sawAbort = false;
    let finish: () => void = () => undefined;
    h.behaviours.set('slow', {
      exec: (_inputs, job) =>
        new Promise<string>((resolve, reject) => {
          finish = () => {
            resolve('done');
          };
          job.signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new TbuildError('TB_CANCELED', 'stopped'));
          });
        }),
    });
    const solver = h.solver();
    const slow = leaf('slow');
    const first = new AbortController();
    const one = h.solve(solver, slow, { signal: first.signal });
    const two = h.solve(solver, slow);
    await new Promise((resolve) => setTimeout(resolve, 10));
    first.abort('user pressed Ctrl-C');
    await expect(one).rejects.toMatchObject({ code: 'TB_CANCELED' });
    expect(sawAbort).toBe(false);
    finish();
    await expect(two).resolves.toBe('done');
    expect(h.execs.get('slow')).toBe(1);
  });

  it('aborts shared work once every waiting build has cancelled', async () => {
    const h = new Harness();
    let sawAbort = false;
    h.behaviours.set('slow', {
      exec: (_inputs, job) =>
        new Promise<string>((_resolve, reject) => {
          job.signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new TbuildError('TB_CANCELED', 'stopped'));
          });
        }),
    });
    const solver = h.solver();
    const slow = leaf('slow');
    const controllers = [new AbortController(), new AbortController()];
    const builds = controllers.map((c) => h.solve(solver, slow, { signal: c.signal }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    for (const controller of controllers) controller.abort('stop');
    for (const build of builds) await expect(build).rejects.toMatchObject({ code: 'TB_CANCELED' });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(sawAbort).toBe(true);
  });

  it('runs no more ops at once than the parallelism limit', async () => {
    const h = new Harness();
    const leaves = ['l1', 'l2', 'l3', 'l4', 'l5', 'l6'].map((name) => leaf(name));
    await h.solve(h.solver(2), node('root', leaves));
    expect(h.maxRunning).toBe(2);
    expect(h.execs.size).toBe(7);
  });

  it('starts the next op while a running one lends its slot, and gives it back before starting more', async () => {
    const h = new Harness();
    const finish = new Map<string, () => void>();
    const started: string[] = [];
    let idleJob: ExecContext | undefined;
    for (const name of ['idle', 'b1', 'b2']) {
      h.behaviours.set(name, {
        exec: (_inputs, job) => {
          started.push(name);
          if (name === 'idle') idleJob = job;
          return new Promise<string>((resolve) => {
            finish.set(name, () => {
              resolve(name);
            });
          });
        },
      });
    }
    const tick = () => new Promise((resolve) => setTimeout(resolve, 10));
    const build = h.solve(h.solver(1), node('root', [leaf('idle'), leaf('b1'), leaf('b2')]));
    await tick();
    expect(started).toEqual(['idle']);
    idleJob?.slot.lend();
    await tick();
    expect(started).toEqual(['idle', 'b1']);
    // b1 holds the only slot: the reclaim waits for it, ahead of b2.
    let reclaimed = false;
    const reclaim = idleJob?.slot.reclaim(new AbortController().signal).then(() => {
      reclaimed = true;
    });
    await tick();
    expect(reclaimed).toBe(false);
    finish.get('b1')?.();
    await reclaim;
    await tick();
    expect(started).toEqual(['idle', 'b1']);
    finish.get('idle')?.();
    await tick();
    expect(started).toEqual(['idle', 'b1', 'b2']);
    finish.get('b2')?.();
    await expect(build).resolves.toBe('root(idle,b1,b2)');
  });

  it('reports a failing step and rejects with its error', async () => {
    const h = new Harness();
    h.behaviours.set('bad', {
      exec: () => Promise.reject(new TbuildError('TB_INTERNAL', 'exit code 1')),
    });
    const bad = node('bad', [leaf('a')]);
    await expect(h.solve(h.solver(), node('d', [bad]))).rejects.toMatchObject({
      message: 'exit code 1',
      details: { vertex: bad.digest },
    });
    const failure = h.events.find((event) => event.type === 'vertex.error');
    expect(failure?.vertex).toBe(bad.digest);
    expect(h.execs.get('d')).toBeUndefined();
    expect(h.store.size).toBe(1);
  });

  it('re-runs everything with noCache and stores fresh results', async () => {
    const h = new Harness();
    const { d } = diamond();
    await h.solve(h.solver(), d);
    await h.solve(h.solver(), d, { noCache: true });
    expect(Object.fromEntries(h.execs)).toEqual({ a: 2, b: 2, c: 2, d: 2 });
  });

  it('runs only what the requested root reaches', async () => {
    const h = new Harness();
    const { b } = diamond();
    await h.solve(h.solver(), b);
    expect([...h.execs.keys()].sort()).toEqual(['a', 'b']);
  });
});

describe('stepOrder', () => {
  it('puts inputs before their users and a chain deep in the graph first', () => {
    // A final stage copying from stages s0..s2 in turn: copy0 -> copy1 -> copy2 (the root).
    const base = leaf('busybox');
    const stages = [0, 1, 2].map((index) => node(`run s${String(index)}`, [base]));
    let last = node('copy 0', [base, stages[0] as Vertex]);
    last = node('copy 1', [last, stages[1] as Vertex]);
    const root = node('copy 2', [last, stages[2] as Vertex]);
    const order = stepOrder(root);
    const place = (vertex: Vertex): number => order.get(vertex.digest) ?? -1;
    const runs = stages.map(place);
    expect(runs).toEqual([...runs].sort((a, b) => a - b));
    expect(place(base)).toBe(0);
    expect(place(root)).toBe(order.size - 1);
    expect(order.size).toBe(7);
  });

  it('walks a chain of thousands of steps without exhausting the stack', () => {
    let vertex = leaf('base');
    for (let index = 0; index < 20_000; index++) vertex = node(`step ${String(index)}`, [vertex]);
    expect(stepOrder(vertex).size).toBe(20_001);
  });
});
