import { lowerError } from './errors.js';

/** `80`, `80/udp`, `8000-8002/tcp`, `[ip:]host:container/proto` → `port/proto` keys, as BuildKit's parsePortSpec. */
export function parsePortSpec(raw: string): string[] {
  const parts = raw.split(':');
  const containerPart = parts[parts.length - 1] ?? '';
  const hostPart = parts.length >= 2 ? (parts[parts.length - 2] ?? '') : '';
  const slash = containerPart.indexOf('/');
  const port = slash < 0 ? containerPart : containerPart.slice(0, slash);
  const proto = slash < 0 ? 'tcp' : containerPart.slice(slash + 1).toLowerCase() || 'tcp';
  if (port === '') throw lowerError('TB_DOCKERFILE_ARGUMENTS', `no port specified: ${raw}<empty>`);
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') {
    throw lowerError(
      'TB_DOCKERFILE_ARGUMENTS',
      `invalid proto: ${proto}`,
      'EXPOSE takes tcp, udp or sctp',
    );
  }
  const range = parsePortRange(port);
  if (range === undefined)
    throw lowerError('TB_DOCKERFILE_ARGUMENTS', `invalid containerPort: ${port}`);
  if (hostPart !== '' && parsePortRange(hostPart) === undefined) {
    throw lowerError('TB_DOCKERFILE_ARGUMENTS', `invalid hostPort: ${hostPart}`);
  }
  const [start, end] = range;
  const out: string[] = [];
  for (let value = start; value <= end; value++) out.push(`${String(value)}/${proto}`);
  return out;
}

function parsePortRange(text: string): [number, number] | undefined {
  const parse = (value: string): number | undefined => {
    if (!/^\d+$/.test(value)) return undefined;
    const number = Number(value);
    return number <= 65535 ? number : undefined;
  };
  const pieces = text.split('-');
  if (pieces.length > 2) return undefined;
  const start = parse(pieces[0] ?? '');
  const end = pieces.length === 2 ? parse(pieces[1] ?? '') : start;
  if (start === undefined || end === undefined || end < start) return undefined;
  return [start, end];
}
