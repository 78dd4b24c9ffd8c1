import { type Logger, TbuildError } from '../core/index.js';
import { type Challenge, preferredChallenge } from './challenge.js';
import type { Credential, CredentialStore, FoundCredential } from './docker-config.js';
import { type HttpAgents, discardBody, readBody, sendRequest } from './http-transport.js';
import { responseError } from './registry-errors.js';
import { type RetryOptions, withRetry } from './retry.js';
import { scopesCover, unionScopes } from './scope.js';

/**
 * Authorization for one registry host: nothing, Basic on every request, or Bearer tokens
 * from the challenge's realm, cached per scope set and renewed before they expire or when
 * the registry says `invalid_token` / `insufficient_scope`.
 */

interface CachedToken {
  readonly scopes: readonly string[];
  readonly token: string;
  readonly expiresAt: number;
}

export interface RegistryAuthOptions {
  readonly registry: string;
  readonly credentials: CredentialStore;
  readonly agents: HttpAgents;
  readonly logger: Logger;
  readonly retry: RetryOptions;
  readonly userAgent: string;
}

const TOKEN_BODY_LIMIT = 1024 * 1024;

export class RegistryAuth {
  private challenge: Challenge | undefined;
  private found: Promise<FoundCredential> | undefined;
  private tokens: CachedToken[] = [];
  private readonly pending = new Map<string, Promise<CachedToken>>();

  private readonly options: RegistryAuthOptions;

  constructor(options: RegistryAuthOptions) {
    this.options = options;
  }

  /** The challenge from the ping or from a 401; Bearer and Basic are understood. */
  setChallenge(challenges: readonly Challenge[]): void {
    const chosen = preferredChallenge(challenges);
    if (chosen !== undefined) this.challenge = chosen;
  }

  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  credentials(signal: AbortSignal): Promise<FoundCredential> {
    if (this.found === undefined) {
      const found = this.options.credentials.get(this.options.registry, signal);
      // A failed lookup (a helper that crashed) is not remembered: the next request asks again.
      found.catch(() => {
        if (this.found === found) this.found = undefined;
      });
      this.found = found;
    }
    return this.found;
  }

  /** The Authorization header for a request needing `scopes`, or undefined for anonymous access. */
  async header(scopes: readonly string[], signal: AbortSignal): Promise<string | undefined> {
    const challenge = this.challenge;
    if (challenge === undefined) return undefined;
    const { credential } = await this.credentials(signal);
    if (challenge.scheme === 'basic') {
      if (credential?.username === undefined) return undefined;
      return `Basic ${Buffer.from(`${credential.username}:${credential.password ?? ''}`).toString('base64')}`;
    }
    if (credential?.registryToken !== undefined) return `Bearer ${credential.registryToken}`;
    const token = await this.token(unionScopes(scopes), credential, signal);
    return `Bearer ${token.token}`;
  }

  /** Forgets tokens covering `scopes` (the registry refused them) and learns the new challenge. */
  refused(challenges: readonly Challenge[], scopes: readonly string[]): readonly string[] {
    this.setChallenge(challenges);
    this.tokens = this.tokens.filter((t) => !scopesCover(t.scopes, scopes));
    const asked = this.challenge?.params['scope'];
    return asked === undefined ? scopes : unionScopes(scopes, [asked]);
  }

  private async token(
    scopes: readonly string[],
    credential: Credential | undefined,
    signal: AbortSignal,
  ): Promise<CachedToken> {
    const now = Date.now();
    const cached = this.tokens.find((t) => t.expiresAt > now && scopesCover(t.scopes, scopes));
    if (cached !== undefined) return cached;
    const key = scopes.join(' ');
    let pending = this.pending.get(key);
    if (pending === undefined) {
      pending = this.fetchToken(scopes, credential, signal).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    const token = await pending;
    this.tokens = [...this.tokens.filter((t) => t.expiresAt > Date.now()), token];
    return token;
  }

  private async fetchToken(
    scopes: readonly string[],
    credential: Credential | undefined,
    signal: AbortSignal,
  ): Promise<CachedToken> {
    const params = this.challenge?.params ?? {};
    const realm = params['realm'];
    if (realm === undefined) {
      throw new TbuildError(
        'TB_REGISTRY_AUTH',
        `registry ${this.options.registry} sent a Bearer challenge without a realm`,
      );
    }
    const url = new URL(realm);
    const service = params['service'];
    const headers: Record<string, string> = {
      'user-agent': this.options.userAgent,
      accept: 'application/json',
    };
    let body: Buffer | undefined;
    if (credential?.identityToken !== undefined) {
      // OAuth2 refresh-token grant: the only way to use an identity token.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: credential.identityToken,
        client_id: 'tbuild',
      });
      if (service !== undefined) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      body = Buffer.from(form.toString());
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (service !== undefined) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (credential?.username !== undefined) {
        url.searchParams.set('account', credential.username);
        headers['authorization'] =
          `Basic ${Buffer.from(`${credential.username}:${credential.password ?? ''}`).toString('base64')}`;
      }
    }
    const what = `getting a token for ${this.options.registry} (scope ${scopes.join(' ') || 'none'})`;
    return withRetry(
      what,
      async () => {
        const response = await sendRequest(this.options.agents, {
          method: body === undefined ? 'GET' : 'POST',
          url,
          headers,
          ...(body === undefined ? {} : { body }),
          signal,
          followRedirects: true,
        });
        if (response.status === 401 || response.status === 403) {
          discardBody(response);
          const { source } = await this.credentials(signal);
          throw new TbuildError(
            'TB_REGISTRY_AUTH',
            `the token server of ${this.options.registry} refused the credentials (${String(response.status)}) for scope ${scopes.join(' ') || 'none'}; credentials from ${source}`,
            {
              hint:
                credential === undefined
                  ? `log in to ${this.options.registry}`
                  : `check the user name and password for ${this.options.registry}`,
              details: { registry: this.options.registry, status: response.status, scopes },
            },
          );
        }
        if (response.status !== 200) throw await responseError(response, what, signal);
        const json = JSON.parse(
          (await readBody(response, TOKEN_BODY_LIMIT, signal)).toString('utf8'),
        ) as {
          token?: unknown;
          access_token?: unknown;
          expires_in?: unknown;
        };
        const token = typeof json.token === 'string' ? json.token : json.access_token;
        if (typeof token !== 'string' || token === '') {
          throw new TbuildError(
            'TB_REGISTRY_AUTH',
            `the token server of ${this.options.registry} answered without a token`,
          );
        }
        const lifetime = Math.max(60, typeof json.expires_in === 'number' ? json.expires_in : 60);
        // Renew a little before expiry so a request never leaves with a token about to lapse.
        const expiresAt = Date.now() + (lifetime - Math.min(30, lifetime / 4)) * 1000;
        this.options.logger.debug('registry token obtained', {
          registry: this.options.registry,
          scopes,
          lifetime,
        });
        return { scopes, token, expiresAt };
      },
      { ...this.options.retry, signal, logger: this.options.logger },
    );
  }
}
