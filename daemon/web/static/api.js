/**
 * The page's client of the service's /v1 API: the same endpoints CI uses,
 * with the tab's bearer token when one was given.
 */

const TOKEN_KEY = 'tbuild.token';

/** An answer of the API that is not a success: `code` is the TbuildError code. */
export class ApiError extends Error {
  constructor(status, code, message, hint) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

/** The token this tab uses, if any. sessionStorage: it goes when the tab goes. */
export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function storeToken(token) {
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Request headers with the token, when there is one. */
export function authHeaders(extra = {}) {
  const token = storedToken();
  return token === undefined ? { ...extra } : { ...extra, authorization: `Bearer ${token}` };
}

/** Fetches `path` of this service; an answer other than 2xx throws an ApiError. */
export async function apiFetch(path, init = {}) {
  const response = await fetch(path, {
    ...init,
    headers: authHeaders(init.headers),
    cache: 'no-store',
  });
  if (response.ok) return response;
  let body = {};
  try {
    body = await response.json();
  } catch {
    // Not the service's JSON error: the status says enough.
  }
  throw new ApiError(
    response.status,
    typeof body.code === 'string' ? body.code : `HTTP_${String(response.status)}`,
    typeof body.message === 'string' ? body.message : response.statusText,
    typeof body.hint === 'string' ? body.hint : undefined,
  );
}

export async function apiJson(path, init = {}) {
  return (await apiFetch(path, { ...init, headers: { accept: 'application/json' } })).json();
}

/** `/v1/builds/<id>` and what hangs off it, the id escaped. */
export function buildPath(id, rest = '') {
  return `/v1/builds/${encodeURIComponent(id)}${rest}`;
}
