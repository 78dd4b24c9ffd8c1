import { type Logger, TbuildError, canceledError, isTbuildError } from '../core/index.js';

/**
 * Retries with exponential backoff and jitter for failures marked `retryable` (429, 5xx,
 * resets, truncated bodies), honouring a Retry-After the registry sent.
 */

export interface RetryOptions {
  /** Attempts in all, the first included. Default 5. */
  readonly attempts?: number;
  /** Default 200 ms; doubled per attempt. */
  readonly baseDelayMs?: number;
  /** Default 10 s; also caps a Retry-After. */
  readonly maxDelayMs?: number;
}

export function isRetryable(error: unknown): boolean {
  return isTbuildError(error) && error.details?.['retryable'] === true;
}

function retryAfterMs(error: unknown): number | undefined {
  if (!isTbuildError(error)) return undefined;
  const value = error.details?.['retryAfterMs'];
  return typeof value === 'number' ? value : undefined;
}

/** Retry-After is seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(canceledError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(canceledError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function withRetry<T>(
  what: string,
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions & { readonly signal: AbortSignal; readonly logger: Logger },
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 200;
  const max = options.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isRetryable(error) || attempt >= attempts || options.signal.aborted) {
        if (isRetryable(error) && attempt >= attempts && error instanceof TbuildError) {
          throw new TbuildError(
            error.code,
            `${error.message} (gave up after ${String(attempt)} attempts)`,
            {
              ...(error.hint === undefined ? {} : { hint: error.hint }),
              ...(error.details === undefined ? {} : { details: error.details }),
              cause: error,
            },
          );
        }
        throw error;
      }
      const backoff = Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      const delay = Math.min(max, retryAfterMs(error) ?? backoff);
      options.logger.warn('registry request failed, retrying', {
        what,
        attempt,
        delayMs: Math.round(delay),
        error: error instanceof Error ? error.message : String(error),
      });
      await sleep(delay, options.signal);
    }
  }
}
