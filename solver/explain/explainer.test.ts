import { describe, expect, it } from 'vitest';
import {
  canonicalDigest,
  neverAborted,
  type Digest,
  type ProgressEvent,
  type VertexCacheMiss,
} from '../../core/index.js';
import { createVertex, type ExecOp, type StepMeta, type Vertex } from '../ir/index.js';
import { Solver } from '../solver.js';
import type { ResultCache } from '../types.js';
import { ImportedExplanations, type ExplanationStore, type StepExplanation } from './record.js';

/**
 * The solver with toy ops and in-memory stores: a step that misses is
 * compared with what its last result was made of, and says why it ran.
 */
const platform = { os: 'linux', architecture: 'amd64' };

function step(id: string, command: string, vars: Record<string, string>, inputs: Vertex[]): Vertex {
  const op: ExecOp = {
    kind: 'exec',
    args: [command, ...Object.values(vars)],
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
  const meta: StepMeta = { id, instruction: command, vars };
  return createVertex(op, inputs, { name: `${id} ${command}`, step: meta });
}

class Stores {
  readonly results = new Map<Digest, string>();
  readonly explanations = new Map<Digest, StepExplanation>();
  readonly byKey = new Map<Digest, StepExplanation>();
  lookups = 0;
  saves = 0;

  readonly cache: ResultCache<string> = {
    load: (key) => Promise.resolve(this.results.get(key)),
    save: (key, result) => {
      this.results.set(key, result);
      return Promise.resolve();
    },
  };

  readonly store: ExplanationStore = {
    last: (place) => {
      this.lookups += 1;
      return Promise.resolve(this.explanations.get(place));
    },
    save: (place, explanation) => {
      this.saves += 1;
      this.explanations.set(place, explanation);
      this.byKey.set(explanation.key, explanation);
      return Promise.resolve();
    },
    adopt: (place, key) => {
      const explanation = this.byKey.get(key);
      if (explanation !== undefined) this.explanations.set(place, explanation);
      return Promise.resolve();
    },
  };

  async build(root: Vertex, imported?: ImportedExplanations): Promise<ProgressEvent[]> {
    const solver = new Solver<string>({
      resolveOp: (vertex) => ({
        cacheMap: () =>
          Promise.resolve({
            digest: canonicalDigest(vertex.op),
            inputs: vertex.inputs.map(() => ({})),
            cacheable: true,
          }),
        exec: (inputs) => Promise.resolve(`${vertex.meta.name}(${inputs.join(',')})`),
      }),
      cache: this.cache,
      explanations: this.store,
      maxParallelism: 2,
    });
    const events: ProgressEvent[] = [];
    await solver.solve(root, {
      signal: neverAborted,
      progress: (event) => events.push(event),
      explain: {
        project: '/src/app',
        dockerfile: 'Dockerfile',
        ...(imported === undefined ? {} : { imported }),
      },
    });
    return events;
  }
}

function misses(events: ProgressEvent[]): VertexCacheMiss[] {
  return events.filter((event): event is VertexCacheMiss => event.type === 'vertex.cache-miss');
}

function chain(version: string): { base: Vertex; top: Vertex } {
  const base = step('stage 0 step 1', 'RUN build', { 'ARG VERSION': version }, []);
  // A RUN sees every ARG of its stage: the one above names its parent, not the ARG again.
  return { base, top: step('stage 0 step 2', 'RUN test', { 'ARG VERSION': version }, [base]) };
}

describe('MissExplainer in the solver', () => {
  it('says nothing on a first build and on a fully cached one, and writes nothing then', async () => {
    const stores = new Stores();
    expect(misses(await stores.build(chain('1').top))).toEqual([]);
    expect(stores.explanations.size).toBe(2);
    const saves = stores.saves;
    expect(misses(await stores.build(chain('1').top))).toEqual([]);
    expect(stores.saves).toBe(saves);
  });

  it("makes a hit the step's last result, so going back to a variant is compared with it", async () => {
    const stores = new Stores();
    await stores.build(chain('1').top);
    const v1 = new Set([...stores.explanations.values()].map((explanation) => explanation.key));
    await stores.build(chain('2').top);
    expect(misses(await stores.build(chain('1').top))).toEqual([]);
    expect(
      new Set([...stores.explanations.values()].map((explanation) => explanation.key)),
    ).toEqual(v1);
  });

  it('names the first cause on its step and the parent on the steps above it, after started', async () => {
    const stores = new Stores();
    await stores.build(chain('1').top);
    const { base, top } = chain('2');
    const events = await stores.build(top);
    expect(misses(events).map((event) => [event.vertex, event.reasons])).toEqual([
      [base.digest, [{ kind: 'arg', names: ['VERSION'] }]],
      [top.digest, [{ kind: 'parent', vertex: base.digest, name: base.meta.name, ran: true }]],
    ]);
    const started = events.findIndex(
      (e) => e.type === 'vertex.started' && e.vertex === base.digest,
    );
    const missed = events.findIndex(
      (e) => e.type === 'vertex.cache-miss' && e.vertex === base.digest,
    );
    expect(started).toBeGreaterThanOrEqual(0);
    expect(missed).toBeGreaterThan(started);
  });

  it('says a result was removed when its key is the recorded one', async () => {
    const stores = new Stores();
    const { top } = chain('1');
    await stores.build(top);
    stores.results.clear();
    const reasons = misses(await stores.build(top)).map((event) => event.reasons);
    expect(reasons).toEqual([[{ kind: 'evicted' }], [{ kind: 'evicted' }]]);
  });

  it('compares with an imported explanation when there is no local one', async () => {
    const first = new Stores();
    await first.build(chain('1').top);
    const imported = new ImportedExplanations();
    imported.add([...first.explanations.values(), { not: 'an explanation' }]);
    const second = new Stores();
    const reasons = misses(await second.build(chain('2').top, imported)).map(
      (e) => e.reasons[0]?.kind,
    );
    expect(reasons).toEqual(['arg', 'parent']);
  });
});
