import { TbuildError } from '../core/index.js';
import type { RunSpec } from './types.js';

/** What the helper passes to setrlimit: RLIMIT_* number, soft and hard as decimal strings. */
export interface HelperRlimit {
  readonly resource: number;
  readonly soft: string;
  readonly hard: string;
}

/** RLIMIT_* numbers (Linux, asm-generic/resource.h) by the names docker's --ulimit uses. */
export const RLIMIT_RESOURCES: Readonly<Record<string, number>> = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  rss: 5,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  locks: 10,
  sigpending: 11,
  msgqueue: 12,
  nice: 13,
  rtprio: 14,
  rttime: 15,
};

/** RLIM_INFINITY as the helper's strtoull reads it. */
const UNLIMITED = '18446744073709551615';

/**
 * Explicit rlimits of every step (research/sandbox.md §1.7): Node raises its
 * own and children would inherit them. A step's ulimits replace these by name.
 */
const DEFAULTS: readonly { name: string; soft: number; hard: number }[] = [
  { name: 'nofile', soft: 1048576, hard: 1048576 },
  { name: 'core', soft: 0, hard: 0 },
];

/** The defaults with the spec's ulimits over them, in a fixed order. */
export function stepRlimits(ulimits: RunSpec['ulimits']): HelperRlimit[] {
  const byName = new Map(DEFAULTS.map((limit) => [limit.name, limit]));
  for (const limit of ulimits ?? []) byName.set(limit.name, limit);
  return [...byName.values()].map(({ name, soft, hard }) => {
    const resource = RLIMIT_RESOURCES[name];
    if (resource === undefined)
      throw new TbuildError('TB_RUNTIME_SPEC', `unknown resource limit "${name}"`, {
        hint: `known: ${Object.keys(RLIMIT_RESOURCES).join(', ')}`,
      });
    return { resource, soft: limitText(soft), hard: limitText(hard) };
  });
}

function limitText(value: number): string {
  if (value === -1) return UNLIMITED;
  if (!Number.isSafeInteger(value) || value < 0)
    throw new TbuildError('TB_RUNTIME_SPEC', `invalid resource limit value ${String(value)}`);
  return String(value);
}
