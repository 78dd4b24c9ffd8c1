/**
 * Go's formatting of durations and string slices, because Docker's image
 * history texts (`HEALTHCHECK {…Interval:30s…}`, `CMD ["a" "b"]`,
 * `VOLUME [/data]`) are written with Go's fmt and tools compare them.
 */
import { lowerError } from './errors.js';

const UNIT_NANOS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration, to integer nanoseconds. */
export function parseGoDuration(text: string): number {
  const invalid = (): Error =>
    lowerError('TB_DOCKERFILE_FLAG_VALUE', `time: invalid duration "${text}"`);
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let total = 0;
  const part = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== '') {
    const match = part.exec(rest);
    if (match === null) throw invalid();
    const [whole, integer = '', fraction = '', unit = ''] = match;
    if (integer === '' && fraction === '') throw invalid();
    const nanos = UNIT_NANOS[unit] ?? 0;
    total +=
      Number(integer || '0') * nanos + (fraction === '' ? 0 : Number(`0.${fraction}`) * nanos);
    rest = rest.slice(whole.length);
  }
  return sign * Math.round(total);
}

/** Go's time.Duration.String: `1h2m3.5s`, `150ms`, `0s`. */
export function formatGoDuration(nanos: number): string {
  if (nanos === 0) return '0s';
  const sign = nanos < 0 ? '-' : '';
  const value = Math.abs(nanos);
  if (value < 1e3) return `${sign}${String(value)}ns`;
  if (value < 1e6) return `${sign}${trimFraction(value / 1e3)}µs`;
  if (value < 1e9) return `${sign}${trimFraction(value / 1e6)}ms`;
  const hours = Math.floor(value / 3600e9);
  const minutes = Math.floor((value % 3600e9) / 60e9);
  const seconds = (value % 60e9) / 1e9;
  let out = '';
  if (hours > 0) out += `${String(hours)}h`;
  if (hours > 0 || minutes > 0) out += `${String(minutes)}m`;
  return `${sign}${out}${trimFraction(seconds)}s`;
}

function trimFraction(value: number): string {
  return String(Number(value.toFixed(9)));
}

/** `fmt.Sprintf("%q", []string{…})`: `["a" "b"]`. */
export function goQuotedList(values: readonly string[]): string {
  return `[${values.map(goQuote).join(' ')}]`;
}

/**
 * `%q` of one string, as JSON.stringify, except that a byte of the Dockerfile that
 * is not UTF-8 (kept as a lone U+DC80–U+DCFF, core/raw-text.ts) is `\xff`, as Go
 * quotes such a byte, not the `\udcff` JSON would write.
 */
function goQuote(value: string): string {
  const parts = value.split(/((?<![\uD800-\uDBFF])[\uDC80-\uDCFF])/);
  const quoted = parts.map((part, index) =>
    index % 2 === 1
      ? `\\x${(part.charCodeAt(0) - 0xdc00).toString(16)}`
      : JSON.stringify(part).slice(1, -1),
  );
  return `"${quoted.join('')}"`;
}

/** `fmt.Sprintf("%v", []string{…})`: `[a b]`. */
export function goList(values: readonly string[]): string {
  return `[${values.join(' ')}]`;
}
