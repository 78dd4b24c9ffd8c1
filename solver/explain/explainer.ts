import { canonicalDigest, type Digest, type Logger, type ProgressEvent } from '../../core/index.js';
import type { Vertex } from '../ir/index.js';
import type { CacheMap, JobContext } from '../types.js';
import { explainMiss, type InputNow, type MissExplanation } from './compare.js';
import {
  EXPLANATION_VERSION,
  type ExplainedInput,
  type ExplanationStore,
  type ImportedExplanations,
  type StepExplanation,
} from './record.js';

/** Which project a build's steps belong to, so a step is compared with its own earlier result. */
export interface ExplainOptions {
  /** This project on this machine (the context's directory): local explanations are per project. */
  readonly project: string;
  /** The Dockerfile as named in its context: with StepMeta.id, the step's identity on any machine. */
  readonly dockerfile: string;
  /** Explanations an imported cache carried (`--cache-from`). */
  readonly imported?: ImportedExplanations;
}

/** What a key was computed from: the op's digest and, per input, its key or content checksum. */
export interface KeyParts {
  readonly op: Digest;
  readonly inputs: readonly ({ readonly key: Digest } | { readonly content: Digest })[];
}

/** A step about to run: its explanation now, and why it missed when an earlier one is known. */
export interface ExplainedRun {
  readonly place: Digest;
  readonly now: StepExplanation;
  readonly miss?: MissExplanation;
}

/** What the solver hands over for one step; everything it has computed already. */
export interface StepFacts<R> {
  readonly vertex: Vertex;
  readonly key: Digest;
  readonly parts: KeyParts;
  readonly cacheMap: CacheMap<R>;
  /** The inputs' results, in order. */
  readonly inputs: readonly R[];
  /** The CacheMap of an input (memoised by the solver). */
  readonly inputCacheMap: (input: Vertex) => Promise<CacheMap<R>>;
  /** Whether an input ran in this build. */
  readonly ran: (input: Vertex) => boolean;
  /** False when the step runs because the cache was not asked (--no-cache): nothing to explain. */
  readonly compare: boolean;
  readonly job: JobContext;
}

/**
 * Tells why a Dockerfile step missed the cache (solver/explain/compare.ts) and
 * keeps what its new key was made of for the next build. Works only on a miss,
 * so a build that hits everywhere pays nothing; never fails a build (an error
 * here costs only the explanation).
 */
export class MissExplainer {
  readonly #store: ExplanationStore | undefined;
  readonly #options: ExplainOptions | undefined;
  readonly #logger: Logger;
  /** Per step that ran: the ARG and ENV names whose change a step at or below it reported. */
  readonly #varsReported = new Map<Digest, ReadonlySet<string>>();

  constructor(
    store: ExplanationStore | undefined,
    options: ExplainOptions | undefined,
    logger: Logger,
  ) {
    this.#store = store;
    this.#options = options;
    this.#logger = logger;
  }

  /** The step's explanation now, compared with the last one; undefined for steps not explained. */
  async explain<R>(facts: StepFacts<R>): Promise<ExplainedRun | undefined> {
    const store = this.#store;
    const options = this.#options;
    const step = facts.vertex.meta.step;
    if (store === undefined || options === undefined || step === undefined) return undefined;
    try {
      const stepId = stepIdentity(options, step.id);
      const place = placeOf(options, step.id);
      const now = await this.#describe(facts, stepId);
      if (!facts.compare) return { place, now };
      const before = (await store.last(place, facts.job)) ?? options.imported?.get(stepId);
      if (before === undefined) return { place, now };
      const inputs = facts.vertex.inputs.map((input): InputNow => ({
        vertex: input.digest,
        name: input.meta.name,
        ran: facts.ran(input),
        image: input.op.kind === 'source' && input.op.source.type === 'image',
      }));
      return { place, now, miss: this.#firstCauses(facts, explainMiss(before, now, inputs)) };
    } catch (error) {
      this.#logger.debug('could not explain a cache miss', { error: String(error) });
      return undefined;
    }
  }

  /**
   * Steps found in the cache: the result each now has is the one a later miss
   * is compared with, so a build that goes back to an earlier variant (a build
   * arg set back) is not compared with the variant it left. One small read per
   * step; a write only when the step's last result was another.
   */
  async hits(steps: readonly { vertex: Vertex; key: Digest }[], job: JobContext): Promise<void> {
    const store = this.#store;
    const options = this.#options;
    if (store === undefined || options === undefined) return;
    await Promise.all(
      steps.map(async ({ vertex, key }) => {
        const step = vertex.meta.step;
        if (step === undefined) return;
        try {
          const place = placeOf(options, step.id);
          if ((await store.last(place, job))?.key !== key) await store.adopt(place, key, job);
        } catch (error) {
          this.#logger.debug('could not note a cached step', { error: String(error) });
        }
      }),
    );
  }

  /**
   * A RUN sees every ARG and ENV of its stage, so one changed value changes
   * every RUN after it: only the first names it, the ones above say `parent`.
   */
  #firstCauses<R>(facts: StepFacts<R>, miss: MissExplanation): MissExplanation {
    const upstream = new Set<string>();
    for (const input of facts.vertex.inputs) {
      if (!facts.ran(input)) continue;
      for (const name of this.#varsReported.get(input.digest) ?? []) upstream.add(name);
    }
    const own = miss.reasons.flatMap((reason) =>
      reason.kind === 'arg' || reason.kind === 'env'
        ? reason.names.map((name) => `${reason.kind} ${name}`)
        : [],
    );
    this.#varsReported.set(facts.vertex.digest, new Set([...upstream, ...own]));
    if (upstream.size === 0) return miss;
    const reasons = miss.reasons.flatMap((reason) => {
      if (reason.kind !== 'arg' && reason.kind !== 'env') return [reason];
      const names = reason.names.filter((name) => !upstream.has(`${reason.kind} ${name}`));
      return names.length === 0 ? [] : [{ ...reason, names }];
    });
    return { ...miss, reasons: reasons.length === 0 ? miss.reasons : reasons };
  }

  /** Keeps the explanation of a result just saved under its key. */
  async saved(run: ExplainedRun, job: JobContext): Promise<void> {
    try {
      await this.#store?.save(run.place, run.now, job);
    } catch (error) {
      this.#logger.debug('could not keep the explanation of a step', { error: String(error) });
    }
  }

  async #describe<R>(facts: StepFacts<R>, stepId: string): Promise<StepExplanation> {
    const step = facts.vertex.meta.step;
    const inputs = await Promise.all(
      facts.parts.inputs.map(async (part, index): Promise<ExplainedInput> => {
        const vertex = facts.vertex.inputs[index];
        if ('key' in part) {
          const origin =
            vertex === undefined ? undefined : (await facts.inputCacheMap(vertex)).origin;
          return { key: part.key, ...(origin === undefined ? {} : { origin }) };
        }
        const listing = facts.cacheMap.inputs[index]?.files;
        const result = facts.inputs[index];
        const files =
          listing === undefined || result === undefined
            ? undefined
            : await listing(result, facts.job);
        return { content: part.content, ...(files === undefined ? {} : { files }) };
      }),
    );
    return {
      version: EXPLANATION_VERSION,
      step: stepId,
      key: facts.key,
      instruction: step?.instruction ?? facts.vertex.meta.name,
      vars: step?.vars ?? {},
      op: facts.parts.op,
      ...(facts.cacheMap.origin === undefined ? {} : { origin: facts.cacheMap.origin }),
      inputs,
    };
  }
}

/** A step's identity on any machine: the Dockerfile as named in its context, then StepMeta.id. */
function stepIdentity(options: ExplainOptions, id: string): string {
  return `${options.dockerfile}#${id}`;
}

/** Where a step's explanations are kept: its identity in this project on this machine. */
function placeOf(options: ExplainOptions, id: string): Digest {
  return canonicalDigest({ project: options.project, step: stepIdentity(options, id) });
}

/** The progress event of a step that missed, or undefined when nothing is known of it. */
export function cacheMissEvent(
  vertex: Digest,
  run: ExplainedRun | undefined,
): ProgressEvent | undefined {
  if (run?.miss === undefined) return undefined;
  return {
    type: 'vertex.cache-miss',
    vertex,
    reasons: run.miss.reasons,
    components: run.miss.components,
    at: Date.now(),
  };
}
