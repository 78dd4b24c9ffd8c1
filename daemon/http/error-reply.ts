import { isTbuildError, TbuildError, type ErrorCode } from '../../core/index.js';

/** HTTP statuses of the service's own codes; other codes go by their error class. */
const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  TB_SERVICE_UNAUTHENTICATED: 401,
  TB_SERVICE_FORBIDDEN: 403,
  TB_ENTITLEMENT_DENIED: 403,
  TB_SERVICE_NOT_FOUND: 404,
  TB_SERVICE_LIMIT: 413,
  TB_SERVICE_QUEUE_FULL: 429,
  TB_SERVICE_STOPPING: 503,
  TB_CANCELED: 499,
};

const STATUS_BY_CLASS: Record<TbuildError['errorClass'], number> = {
  InvalidArgument: 400,
  NotFound: 404,
  AlreadyExists: 409,
  FailedPrecondition: 412,
  PermissionDenied: 403,
  Unavailable: 503,
  Unimplemented: 501,
  Canceled: 499,
  DataLoss: 500,
  Internal: 500,
};

/** An error as the service answers it: a status and `{code, message}` (plus the hint). */
export function errorReply(error: unknown): {
  readonly status: number;
  readonly error: TbuildError;
} {
  const tbuildError = isTbuildError(error) ? error : fromFramework(error);
  const status = STATUS_BY_CODE[tbuildError.code] ?? STATUS_BY_CLASS[tbuildError.errorClass];
  return { status, error: tbuildError };
}

/**
 * Errors fastify raises before a handler runs (a bad content type, a body too
 * large, malformed JSON) carry their status; they become service codes.
 */
function fromFramework(error: unknown): TbuildError {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 413) return new TbuildError('TB_SERVICE_LIMIT', message, { cause: error });
  if (typeof status === 'number' && status >= 400 && status < 500)
    return new TbuildError('TB_SERVICE_REQUEST', message, { cause: error });
  return new TbuildError('TB_INTERNAL', message, { cause: error });
}
