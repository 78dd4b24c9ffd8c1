/**
 * The name an ADD download gets, by BuildKit's rule (source/http getFileName): the
 * explicit filename, else the `filename` of a Content-Disposition header, else the last
 * segment of the URL path, else `download`; each passed through SafeFileName, so a
 * server can never name a path (`../x`, `a/b`) or a control character.
 */
import { posix } from 'node:path';

const FALLBACK = 'download';

/** BuildKit's pathutil.SafeFileName: trim, keep the base name, refuse `.`, `..`, controls. */
export function safeFileName(name: string): string {
  const base = posix.basename(name.trim());
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (base === '' || base === '.' || base === '..' || /[\u0000-\u001f\u007f]/.test(base)) {
    return FALLBACK;
  }
  return base;
}

export function downloadFileName(
  url: string,
  explicit: string | undefined,
  contentDisposition: string | null | undefined,
): string {
  if (explicit !== undefined && explicit !== '') return safeFileName(explicit);
  const fromHeader = dispositionFileName(contentDisposition);
  if (fromHeader !== undefined) return safeFileName(fromHeader);
  const fromUrl = urlBaseName(url);
  return safeFileName(fromUrl ?? '');
}

/** Go's path.Base of the decoded URL path, or undefined when it is `/` or `.`. */
function urlBaseName(url: string): string | undefined {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const trimmed = pathname.replace(/\/+$/, '');
  if (trimmed === '') return undefined;
  const raw = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    decoded = raw;
  }
  return decoded === '.' ? undefined : decoded;
}

/**
 * The `filename` parameter of a Content-Disposition header (RFC 6266), preferring the
 * RFC 5987 `filename*=UTF-8''…` form as Go's mime.ParseMediaType does. A name ending in
 * `/` is ignored, like BuildKit.
 */
export function dispositionFileName(header: string | null | undefined): string | undefined {
  if (header === null || header === undefined) return undefined;
  const params = new Map<string, string>();
  const pattern = /;\s*([!#$%&'*+.^_`|~0-9a-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/gi;
  for (const match of header.matchAll(pattern)) {
    const key = (match[1] ?? '').toLowerCase();
    let value = match[2] ?? '';
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    params.set(key, value);
  }
  let name = params.get('filename');
  const extended = params.get('filename*');
  if (extended !== undefined) {
    const parts = /^([^']*)'[^']*'(.*)$/.exec(extended);
    if (parts !== null) {
      try {
        name = decodeURIComponent(parts[2] ?? '');
      } catch {
        // A malformed extended value: keep the plain one.
      }
    }
  }
  if (name === undefined || name === '' || name.endsWith('/')) return undefined;
  return name;
}
