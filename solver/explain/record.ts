import { isDigest, type Digest } from '../../core/index.js';
import type { JobContext } from '../types.js';

/** Bumped when what an explanation holds changes meaning; others are ignored. */
export const EXPLANATION_VERSION = 'tbuild.explain.v1';

/**
 * What a step's cache key was made of, kept with its result so that a later
 * build in which the same step misses can say which part changed. Small JSON:
 * names and digests, never the value of a build arg, ENV variable or secret.
 */
export interface StepExplanation {
  readonly version: typeof EXPLANATION_VERSION;
  /** The step's identity: the Dockerfile as named in its context, then StepMeta.id. */
  readonly step: string;
  readonly key: Digest;
  /** The instruction as written. */
  readonly instruction: string;
  /** `ARG NAME` / `ENV NAME` → digest of the value (StepMeta.vars). */
  readonly vars: Readonly<Record<string, string>>;
  /** The op's definition digest (CacheMap.digest). */
  readonly op: Digest;
  /** What the op's result came from outside the build (a base image's ID, its config digest). */
  readonly origin?: string;
  readonly inputs: readonly ExplainedInput[];
}

/** An input of the step: by its key, or by the checksum of the part the step reads. */
export type ExplainedInput =
  | { readonly key: Digest; readonly origin?: string }
  | { readonly content: Digest; readonly files?: FileDigests };

/**
 * Checksums of the paths a step reads from a context, bounded: each path it
 * names, then directories listed breadth first until a limit. `listed` are
 * the directories whose children are all in `digests`.
 */
export interface FileDigests {
  readonly digests: Readonly<Record<string, string>>;
  readonly listed: readonly string[];
}

/**
 * Where explanations are kept, by the place of a step: the step in one
 * project on this machine (StepPlace). Losing one only loses an explanation.
 */
export interface ExplanationStore {
  /** The explanation of the result this step last saved here, or undefined. */
  last(place: Digest, job: JobContext): Promise<StepExplanation | undefined>;
  /** Keeps `explanation` as the step's last (and findable by its key, for a cache export). */
  save(place: Digest, explanation: StepExplanation, job: JobContext): Promise<void>;
  /**
   * The step's last result is now the one kept under `key` (a cache hit): the
   * explanation saved with that key becomes the step's last, when there is one.
   */
  adopt(place: Digest, key: Digest, job: JobContext): Promise<void>;
}

/**
 * Explanations that came with an imported cache (`--cache-from`), by step. A
 * step with no local explanation is compared with the imported one.
 */
export class ImportedExplanations {
  readonly #byStep = new Map<string, StepExplanation>();

  /** Adds records as an exported cache carried them; ones that are not explanations are skipped. */
  add(records: readonly unknown[]): void {
    for (const record of records) {
      if (isStepExplanation(record)) this.#byStep.set(record.step, record);
    }
  }

  get(step: string): StepExplanation | undefined {
    return this.#byStep.get(step);
  }
}

/** Whether a JSON value read back (a file, an imported cache) is an explanation of this version. */
export function isStepExplanation(value: unknown): value is StepExplanation {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    record['version'] === EXPLANATION_VERSION &&
    typeof record['step'] === 'string' &&
    isDigest(record['key']) &&
    typeof record['instruction'] === 'string' &&
    isStringRecord(record['vars']) &&
    isDigest(record['op']) &&
    (record['origin'] === undefined || typeof record['origin'] === 'string') &&
    Array.isArray(record['inputs']) &&
    record['inputs'].every(isExplainedInput)
  );
}

function isExplainedInput(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const input = value as Record<string, unknown>;
  if (isDigest(input['key']))
    return input['origin'] === undefined || typeof input['origin'] === 'string';
  if (!isDigest(input['content'])) return false;
  const files = input['files'];
  if (files === undefined) return true;
  if (typeof files !== 'object' || files === null) return false;
  const { digests, listed } = files as Record<string, unknown>;
  return (
    isStringRecord(digests) &&
    Array.isArray(listed) &&
    listed.every((path) => typeof path === 'string')
  );
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((item) => typeof item === 'string')
  );
}
