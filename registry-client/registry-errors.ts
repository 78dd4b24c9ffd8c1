import { type ErrorCode, TbuildError } from '../core/index.js';
import { type HttpResponse, headerValue, readBody } from './http-transport.js';
import { redactUrl } from './redact.js';
import { parseRetryAfter } from './retry.js';

/**
 * Turns an unexpected registry response into a TbuildError. Error bodies are
 * `{"errors":[{code,message,detail}]}` but not always (router 404s are text/plain,
 * Docker Hub 429s are `{"message":…}`), so parse defensively.
 */

export interface RegistryErrorEntry {
  readonly code: string;
  readonly message: string;
}

export function parseErrorBody(body: Buffer): RegistryErrorEntry[] {
  const text = body.toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { errors?: unknown; message?: unknown };
    if (Array.isArray(parsed.errors)) {
      return parsed.errors.map((entry: unknown) => {
        const e = entry as { code?: unknown; message?: unknown };
        return {
          code: typeof e.code === 'string' ? e.code : 'UNKNOWN',
          message: typeof e.message === 'string' ? e.message : '',
        };
      });
    }
    if (typeof parsed.message === 'string') return [{ code: 'UNKNOWN', message: parsed.message }];
  } catch {
    // not JSON: fall through
  }
  return text === '' ? [] : [{ code: 'UNKNOWN', message: text.slice(0, 200) }];
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** Reads the (small) error body and builds the error; `what` says what we were doing. */
export async function responseError(
  response: HttpResponse,
  what: string,
  signal: AbortSignal,
): Promise<TbuildError> {
  let entries: RegistryErrorEntry[] = [];
  try {
    entries = parseErrorBody(await readBody(response, 64 * 1024, signal));
  } catch {
    // the status alone will do
  }
  const status = response.status;
  const codes = entries.map((e) => e.code);
  const said = entries
    .map((e) => (e.message === '' ? e.code : `${e.code}: ${e.message}`))
    .join('; ');
  const suffix = said === '' ? '' : ` (${said})`;
  let code: ErrorCode = 'TB_REGISTRY_HTTP';
  if (status === 404 || codes.some((c) => c.endsWith('_UNKNOWN'))) code = 'TB_REGISTRY_NOT_FOUND';
  if (status === 401 || status === 403) code = 'TB_REGISTRY_AUTH';
  if (codes.includes('DIGEST_INVALID')) code = 'TB_REGISTRY_DIGEST_MISMATCH';
  const retryAfter = parseRetryAfter(headerValue(response, 'retry-after'));
  return new TbuildError(
    code,
    `${what}: ${redactUrl(response.url)} answered ${String(status)}${suffix}`,
    {
      details: {
        status,
        registryCodes: codes,
        retryable: isRetryableStatus(status),
        ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
      },
      ...(status === 429 ? { hint: 'the registry is rate-limiting; log in or wait' } : {}),
    },
  );
}
