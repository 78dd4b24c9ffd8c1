import { usage } from '../flags.js';

/**
 * Sizes and durations as docker prints and parses them (docker/go-units and
 * Go's time.ParseDuration), so `tbuild du` / `prune` read like buildx's.
 */

/** units.HumanSize: decimal units, 4 significant digits: `4.26MB`, `123.5kB`, `0B`. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${String(Number(value.toPrecision(4)))}${units[unit] ?? ''}`;
}

/** units.HumanDuration: `Less than a second`, `About a minute`, `3 hours`, `2 weeks`. */
export function humanDuration(milliseconds: number): string {
  const seconds = Math.floor(milliseconds / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${String(seconds)} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${String(minutes)} minutes`;
  const hours = Math.floor(milliseconds / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${String(hours)} hours`;
  if (hours < 24 * 7 * 2) return `${String(Math.floor(hours / 24))} days`;
  if (hours < 24 * 30 * 2) return `${String(Math.floor(hours / 24 / 7))} weeks`;
  if (hours < 24 * 365 * 2) return `${String(Math.floor(hours / 24 / 30))} months`;
  return `${String(Math.floor(milliseconds / 3_600_000 / 24 / 365))} years`;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/** units.RAMInBytes, as buildx parses --keep-storage: binary units, `10GB`, `512mb`, `1.5g`, `100`. */
export function parseSize(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?) ?([kmgtp]?)i?b?$/i.exec(text.trim());
  const unit = SIZE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (match?.[1] === undefined || unit === undefined) {
    throw usage(
      `invalid size "${text}" for ${flag}`,
      'use a number with an optional unit: 512MB, 10GB, 1.5g',
    );
  }
  return Math.floor(Number(match[1]) * unit);
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration (`24h`, `30m`, `1h30m`, `1.5h`), in ms. */
export function parseDuration(text: string, what: string): number {
  const bad = (): Error =>
    usage(`invalid duration "${text}" for ${what}`, 'use Go durations such as 24h, 30m, 1h30m');
  if (text === '0') return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const match = part.exec(text);
    const unit = DURATION_UNITS[match?.[2] ?? ''];
    if (match?.[1] === undefined || unit === undefined) throw bad();
    total += Number(match[1]) * unit;
    at = part.lastIndex;
  }
  if (at === 0) throw bad();
  return total;
}

/** Left-aligned columns separated by at least three spaces, as docker's tabwriter output. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, index) =>
          index === row.length - 1 ? cell : cell.padEnd((widths[index] ?? 0) + 3),
        )
        .join('')
        .trimEnd(),
    )
    .join('\n');
}
