import { TbuildError, isTbuildError } from './errors.js';

/** The error an aborted operation rejects with; keeps the reason the signal was given. */
export function canceledError(signal: AbortSignal): TbuildError {
  const reason: unknown = signal.reason;
  if (isTbuildError(reason, 'TB_CANCELED')) return reason;
  const why =
    reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted';
  return new TbuildError('TB_CANCELED', `canceled: ${why}`, { cause: reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw canceledError(signal);
}

/** A signal that never aborts, for callers that have nothing to cancel with. */
export const neverAborted: AbortSignal = new AbortController().signal;
