import type { FastifyRequest } from 'fastify';
import { TbuildError } from '../../core/index.js';
import type { Caller } from './auth.js';

/** The caller of each request, set by the app's auth hook before any handler runs. */
const callers = new WeakMap<FastifyRequest['raw'], Caller>();

export function setCaller(request: FastifyRequest, caller: Caller): void {
  callers.set(request.raw, caller);
}

export function callerOf(request: FastifyRequest): Caller {
  const caller = callers.get(request.raw);
  if (caller === undefined)
    throw new TbuildError('TB_INTERNAL', 'a request reached a handler unauthenticated');
  return caller;
}
