/**
 * Credentials in source URLs (`https://user:token@host/…`) must never reach a message,
 * a log line or a progress event. BuildKit's urlutil.RedactCredentials keeps the user
 * name; tbuild replaces the whole user-info, because a lone user name is often a token.
 */

const REDACTED = 'xxxxx';

/** The URL with its user-info replaced by `xxxxx`; anything unparsable is returned as is. */
export function redactUrl(url: string): string {
  return redactCredentialsIn(url);
}

/**
 * Redacts every `scheme://user-info@` in free text, such as git's stderr, which echoes
 * the remote it failed to reach.
 */
export function redactCredentialsIn(text: string): string {
  return text.replace(
    /([a-z][a-z0-9+.-]*:\/\/)([^/?#\s@]+)@/gi,
    (_match, scheme: string) => `${scheme}${REDACTED}@`,
  );
}

/** Splits a URL into one fetch accepts (no user-info) and a Basic Authorization header. */
export function splitCredentials(url: URL): { url: URL; authorization?: string } {
  if (url.username === '' && url.password === '') return { url };
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const token = Buffer.from(`${user}:${password}`).toString('base64');
  return { url: bare, authorization: `Basic ${token}` };
}
