import { randomBytes } from 'node:crypto';

export type BuildStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const BUILD_STATUSES: readonly BuildStatus[] = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
];

/** One step of a build as the API shows it. Times are ISO 8601. */
export interface StepRecord {
  readonly vertex: string;
  name: string;
  started?: string;
  finished?: string;
  cached: boolean;
  error?: string;
}

export interface BuildResultRecord {
  /** When a manifest was written (push, oci, docker): only the local store needs none. */
  readonly manifestDigest?: string;
  readonly configDigest: string;
  readonly tags: readonly string[];
}

/**
 * What the service keeps of a build, on disk as JSON beside its log: the
 * options as asked (never a secret's value: secrets are named by id), status,
 * times, steps, result or error.
 */
export interface BuildRecord {
  readonly id: string;
  status: BuildStatus;
  readonly createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Who asked: a token's name, or `local` for the unix socket and loopback without tokens. */
  readonly owner: string;
  /** The request's options, by the CLI flag names they mirror. */
  readonly options: Readonly<Record<string, string | readonly string[]>>;
  steps: StepRecord[];
  result?: BuildResultRecord;
  error?: { readonly code: string; readonly message: string };
  /** With a shared queue (`--queue`): the node that runs or ran it, and its attempt (2 on, a retry). */
  readonly node?: string;
  readonly attempt?: number;
}

export function isFinished(status: BuildStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

/**
 * A new build id: a time part first, so ids sort in creation order (the list's
 * cursor relies on it), then randomness, so two services never collide.
 */
export function newBuildId(now = Date.now()): string {
  return `${now.toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}

export const BUILD_ID_PATTERN = /^[0-9a-z]{9}[0-9a-f]{12}$/;
