/**
 * Credentials must never reach logs, progress or error messages. Upload URLs carry a
 * signed `_state`, presigned storage URLs carry signatures, and a URL may carry
 * `user:password@`: messages show only origin and path.
 */

export function redactUrl(url: URL | string): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return '<invalid url>';
  }
  const query = parsed.search === '' ? '' : '?…';
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}${query}`;
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

/** A copy of the headers fit for a debug log line. */
export function redactHeaders(
  headers: Readonly<Record<string, string | readonly string[] | number | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    const lower = name.toLowerCase();
    if (!SECRET_HEADERS.has(lower)) out[name] = text;
    else if (lower.endsWith('authorization')) out[name] = `${text.split(' ')[0] ?? ''} <redacted>`;
    else out[name] = '<redacted>';
  }
  return out;
}

/** Removes every occurrence of the given secrets from a text (a registry's error body, say). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('<redacted>');
  }
  return out;
}
