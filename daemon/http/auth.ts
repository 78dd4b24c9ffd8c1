import { createHash, timingSafeEqual } from 'node:crypto';
import { TbuildError } from '../../core/index.js';
import type { Scope, TokenEntry } from '../config.js';

/** Who made a request: a token's name and scopes, or `local` when the service has no tokens. */
export interface Caller {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
}

const EVERYTHING: ReadonlySet<Scope> = new Set<Scope>(['read', 'build', 'admin']);

/**
 * Checks a request's `Authorization: Bearer` header against the configured
 * tokens (kept as SHA-256 hashes, compared in constant time). Without tokens
 * the service only listens on loopback and the unix socket (config.ts refuses
 * anything else), so every caller is the local user.
 */
export function authenticate(tokens: readonly TokenEntry[], header: string | undefined): Caller {
  if (tokens.length === 0) return { name: 'local', scopes: EVERYTHING };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const token = match?.[1];
  if (token === undefined)
    throw new TbuildError('TB_SERVICE_UNAUTHENTICATED', 'this service needs a bearer token', {
      hint: 'send Authorization: Bearer TOKEN (for the docker CLI: HttpHeaders in ~/.docker/config.json)',
    });
  const hash = createHash('sha256').update(token).digest();
  for (const entry of tokens) {
    if (timingSafeEqual(hash, Buffer.from(entry.sha256, 'hex')))
      return { name: entry.name, scopes: new Set(entry.scopes) };
  }
  throw new TbuildError('TB_SERVICE_UNAUTHENTICATED', 'the bearer token is not valid here', {
    hint: 'check the token, or ask the service operator for one',
  });
}

export function requireScope(caller: Caller, scope: Scope): void {
  if (!caller.scopes.has(scope))
    throw new TbuildError(
      'TB_SERVICE_FORBIDDEN',
      `the token "${caller.name}" lacks the "${scope}" scope this needs`,
      { hint: 'ask the service operator for a token with that scope' },
    );
}
