import { TbuildError } from '../core/index.js';

/**
 * `--shm-size` and `--ulimit`, read as docker reads them (docker/go-units
 * RAMInBytes and ParseUlimit), so a flag that works with `docker buildx build`
 * works here and a mistake is reported before anything runs.
 */

/** A resource limit of every RUN's processes; -1 is unlimited (RLIM_INFINITY). */
export interface UlimitSpec {
  readonly name: string;
  readonly soft: number;
  readonly hard: number;
}

/** The names docker accepts (go-units' ulimitNameMapping), each a Linux RLIMIT_*. */
export const ULIMIT_NAMES = [
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
] as const;

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * `--shm-size`: bytes, or a number with a binary unit (`128m`, `1.5g`, `64MiB`,
 * `512kb`). Undefined when absent or 0, which docker reads as its default, 64m.
 */
export function parseShmSize(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const match = /^(\d+(?:\.\d+)?) ?([kmgtp]?)i?b?$/i.exec(text.trim());
  const unit = SIZE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (match?.[1] === undefined || unit === undefined) {
    throw usage(
      `invalid --shm-size "${text}": expected bytes or a number with a unit`,
      'for example --shm-size=128m (units b, k, m, g)',
    );
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw usage(`invalid --shm-size "${text}": too large`);
  return bytes === 0 ? undefined : bytes;
}

/**
 * `--ulimit NAME=SOFT[:HARD]`, repeatable; HARD defaults to SOFT, -1 (or
 * `unlimited`) means no limit. A name given twice keeps its last value, as
 * docker's. Sorted by name, so the same limits always make the same step.
 */
export function parseUlimits(values: readonly string[]): UlimitSpec[] {
  const byName = new Map<string, UlimitSpec>();
  for (const value of values) {
    const spec = parseUlimit(value);
    byName.set(spec.name, spec);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function parseUlimit(text: string): UlimitSpec {
  const equals = text.indexOf('=');
  const names = `accepted names: ${ULIMIT_NAMES.join(', ')}`;
  if (equals < 0)
    throw usage(`invalid --ulimit "${text}": expected NAME=SOFT[:HARD], e.g. nofile=1024:2048`);
  const name = text.slice(0, equals);
  if (!(ULIMIT_NAMES as readonly string[]).includes(name))
    throw usage(`invalid --ulimit "${text}": unknown limit "${name}"`, names);
  const parts = text.slice(equals + 1).split(':');
  if (parts.length > 2)
    throw usage(`invalid --ulimit "${text}": expected at most SOFT:HARD after the name`);
  const [softText = '', hardText = softText] = parts;
  const soft = limitValue(softText, text);
  const hard = limitValue(hardText, text);
  // -1 is unlimited: only a finite soft limit can be checked against the hard one.
  if (hard !== -1 && (soft === -1 || soft > hard))
    throw usage(
      `invalid --ulimit "${text}": the soft limit must not exceed the hard limit (${String(hard)})`,
    );
  return { name, soft, hard };
}

function limitValue(text: string, flag: string): number {
  if (text === 'unlimited' || text === '-1') return -1;
  if (!/^\d+$/.test(text))
    throw usage(
      `invalid --ulimit "${flag}": "${text}" is not a limit`,
      'use a non-negative integer, or -1 (unlimited)',
    );
  const value = Number(text);
  if (!Number.isSafeInteger(value))
    throw usage(`invalid --ulimit "${flag}": ${text} is too large`, 'use -1 for unlimited');
  return value;
}

function usage(message: string, hint?: string): TbuildError {
  return new TbuildError('TB_USAGE', message, hint === undefined ? {} : { hint });
}
