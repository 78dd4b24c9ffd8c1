import { type Logger, TbuildError, noopLogger } from '../core/index.js';
import { RegistryAuth } from './auth.js';
import { parseChallenges } from './challenge.js';
import { type CredentialStore, anonymousCredentials } from './docker-config.js';
import {
  type HttpAgents,
  type HttpRequest,
  type HttpResponse,
  type RequestBody,
  createAgents,
  destroyAgents,
  discardBody,
  headerValue,
  sendRequest,
} from './http-transport.js';
import { DOCKER_HUB, type RepositoryRef } from './reference.js';
import { redactHeaders, redactUrl } from './redact.js';
import { isRetryableStatus, responseError } from './registry-errors.js';
import { type RetryOptions, withRetry } from './retry.js';

/** Per-registry settings; the config file (read by cli/daemon) maps onto this. See docs/config.md. */
export interface RegistryHostConfig {
  /** Allow plain HTTP and HTTPS without certificate checks (try https first, then http). */
  readonly insecure?: boolean;
  /** Plain HTTP only. */
  readonly http?: boolean;
}

export interface RegistryClientOptions {
  readonly credentials?: CredentialStore;
  /** Keyed by registry host with port as in references (`myreg:5000`, `docker.io`). */
  readonly hosts?: Readonly<Record<string, RegistryHostConfig>>;
  readonly logger?: Logger;
  readonly retry?: RetryOptions;
  readonly userAgent?: string;
  /** Abort a request whose socket stays idle this long. Default 60 s. */
  readonly idleTimeoutMs?: number;
}

export interface RegistryRequest {
  readonly method: HttpRequest['method'];
  /** A path below the registry root (`/v2/...`) or an absolute URL (a Location). */
  readonly path: string;
  readonly scopes: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: RequestBody;
  readonly bodyLength?: number;
  readonly signal: AbortSignal;
  readonly followRedirects?: boolean;
}

interface HostSession {
  readonly base: URL;
  readonly auth: RegistryAuth;
  readonly agents: HttpAgents;
}

/** `localhost`, `*.localhost`, 127.0.0.0/8 and ::1 speak plain HTTP without configuration, as in Docker. */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.startsWith('[')
    ? registry.slice(0, registry.indexOf(']') + 1)
    : (registry.split(':')[0] ?? '');
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host === '[::1]'
  );
}

function socketCode(error: unknown): string {
  const details = (error as { details?: { socketCode?: unknown } }).details;
  const code = details?.socketCode ?? (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

/** Every scheme's failure, with a hint when the TLS handshake tells what is wrong. */
function unreachable(
  registry: string,
  failures: readonly { scheme: string; error: unknown }[],
  config: RegistryHostConfig,
): TbuildError {
  const said = failures.map(
    ({ scheme, error }) => `${scheme}: ${error instanceof Error ? error.message : String(error)}`,
  );
  const https = failures.find((f) => f.scheme === 'https');
  const code = https === undefined ? '' : socketCode(https.error);
  let hint: string | undefined;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code) && config.insecure !== true) {
    hint = `the TLS certificate of ${registry} is not trusted: mark it "insecure" in the registries config (docs/config.md)`;
  } else if (/EPROTO|WRONG_VERSION/.test(code) && failures.length === 1) {
    hint = `${registry} may serve plain HTTP: mark it "http" or "insecure" in the registries config (docs/config.md)`;
  }
  return new TbuildError(
    'TB_REGISTRY_HTTP',
    `cannot reach registry ${registry}: ${said.join('; ')}`,
    {
      ...(hint === undefined ? {} : { hint }),
      details: { registry, retryable: false },
      cause: failures[failures.length - 1]?.error,
    },
  );
}

/** The host the API lives on: Docker Hub's API is not at docker.io. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/**
 * One client for any number of registries. Each registry host is pinged once (to learn
 * the scheme and the auth challenge) and keeps its own keep-alive connections and tokens.
 */
export class RegistryClient {
  readonly logger: Logger;
  readonly retry: RetryOptions;
  private readonly sessions = new Map<string, Promise<HostSession>>();
  private readonly agentsByTls = new Map<boolean, HttpAgents>();
  private readonly userAgent: string;
  private readonly idleTimeoutMs: number;
  private readonly credentials: CredentialStore;

  private readonly options: RegistryClientOptions;

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
    this.logger = options.logger ?? noopLogger;
    this.retry = options.retry ?? {};
    this.userAgent = options.userAgent ?? 'tbuild';
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.credentials = options.credentials ?? anonymousCredentials;
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    for (const agents of this.agentsByTls.values()) destroyAgents(agents);
    this.agentsByTls.clear();
    this.sessions.clear();
  }

  private agents(verifyTls: boolean): HttpAgents {
    let agents = this.agentsByTls.get(verifyTls);
    if (agents === undefined) {
      agents = createAgents({ verifyTls });
      this.agentsByTls.set(verifyTls, agents);
    }
    return agents;
  }

  private session(registry: string, signal: AbortSignal): Promise<HostSession> {
    let session = this.sessions.get(registry);
    if (session === undefined) {
      session = this.ping(registry, signal);
      session.catch(() => this.sessions.delete(registry));
      this.sessions.set(registry, session);
    }
    return session;
  }

  /** GET /v2/ over https, falling back to http where allowed; remembers the scheme and challenge. */
  private async ping(registry: string, signal: AbortSignal): Promise<HostSession> {
    const config = this.options.hosts?.[registry] ?? {};
    const loopback = isLoopbackHost(registry);
    const schemes =
      config.http === true
        ? ['http']
        : config.insecure === true || loopback
          ? ['https', 'http']
          : ['https'];
    const agents = this.agents(config.insecure !== true);
    const auth = new RegistryAuth({
      registry,
      credentials: this.credentials,
      agents,
      logger: this.logger,
      retry: this.retry,
      userAgent: this.userAgent,
    });
    const failures: { scheme: string; error: unknown }[] = [];
    for (const scheme of schemes) {
      const base = new URL(`${scheme}://${apiHost(registry)}/`);
      try {
        const response = await withRetry(
          `ping ${registry}`,
          async () => {
            const answer = await sendRequest(agents, {
              method: 'GET',
              url: new URL('/v2/', base),
              headers: { 'user-agent': this.userAgent },
              signal,
              idleTimeoutMs: this.idleTimeoutMs,
            });
            // A registry that is busy (429, 503) is still this registry: retry, don't switch scheme.
            if (isRetryableStatus(answer.status))
              throw await responseError(answer, `ping ${registry}`, signal);
            return answer;
          },
          {
            ...this.retry,
            attempts: scheme === schemes[schemes.length - 1] ? (this.retry.attempts ?? 3) : 1,
            signal,
            logger: this.logger,
          },
        );
        if (response.status === 200) {
          discardBody(response);
        } else if (response.status === 401) {
          discardBody(response);
          auth.setChallenge(parseChallenges(response.headers['www-authenticate']));
        } else {
          throw await responseError(response, `${registry} is not a registry (ping)`, signal);
        }
        this.logger.debug('registry pinged', { registry, scheme, auth: auth.scheme ?? 'none' });
        return { base, auth, agents };
      } catch (error) {
        if (signal.aborted) throw error;
        failures.push({ scheme, error });
      }
    }
    throw unreachable(registry, failures, config);
  }

  /**
   * Sends one request with the right Authorization; on 401 learns the challenge, widens
   * the scopes if the registry asked for more, renews the token and sends it once more.
   * Returns any other status to the caller.
   */
  async request(repo: RepositoryRef, request: RegistryRequest): Promise<HttpResponse> {
    const { base, auth, agents } = await this.session(repo.registry, request.signal);
    const url = new URL(request.path, base);
    const sameOrigin = url.origin === base.origin;
    let scopes = request.scopes;
    for (let attempt = 0; ; attempt++) {
      const authorization = sameOrigin ? await auth.header(scopes, request.signal) : undefined;
      const response = await sendRequest(agents, {
        method: request.method,
        url,
        headers: {
          'user-agent': this.userAgent,
          ...request.headers,
          ...(authorization === undefined ? {} : { authorization }),
        },
        ...(request.body === undefined ? {} : { body: request.body }),
        ...(request.bodyLength === undefined ? {} : { bodyLength: request.bodyLength }),
        signal: request.signal,
        idleTimeoutMs: this.idleTimeoutMs,
        followRedirects: request.followRedirects ?? false,
      });
      this.logger.debug('registry request', {
        method: request.method,
        url: redactUrl(url),
        status: response.status,
        headers: redactHeaders({
          ...request.headers,
          ...(authorization === undefined ? {} : { authorization }),
        }),
      });
      if (response.status !== 401 || !sameOrigin) return response;
      const challenges = parseChallenges(response.headers['www-authenticate']);
      if (attempt >= 1 || challenges.length === 0) return response;
      discardBody(response);
      const error = challenges.find((c) => c.scheme === 'bearer')?.params['error'];
      scopes = auth.refused(challenges, scopes);
      this.logger.debug('registry asked to authenticate again', {
        registry: repo.registry,
        error: error ?? 'none',
        scopes,
      });
    }
  }

  /** Throws a clear TB_REGISTRY_AUTH for a 401/403, naming registry, repository, scope and credential source. */
  async authError(
    repo: RepositoryRef,
    response: HttpResponse,
    scopes: readonly string[],
    what: string,
    signal: AbortSignal,
  ): Promise<TbuildError> {
    const base = await responseError(response, what, signal);
    const { credential, source } = await (
      await this.session(repo.registry, signal)
    ).auth.credentials(signal);
    const denied =
      credential === undefined
        ? `access to ${repo.registry}/${repo.repository} denied: the repository does not exist or needs authorization`
        : `${repo.registry} refused the credentials for ${repo.repository}`;
    return new TbuildError(
      'TB_REGISTRY_AUTH',
      `${what}: ${denied} (scope ${scopes.join(' ')}; credentials from ${source}; ${String(response.status)})`,
      {
        hint:
          credential === undefined
            ? `log in to ${repo.registry}`
            : `check the user name, password and permissions for ${repo.registry}`,
        details: {
          registry: repo.registry,
          repository: repo.repository,
          scopes,
          status: response.status,
        },
        cause: base,
      },
    );
  }

  /** Verifies that the configured credentials work for `registry` (what `docker login` does). */
  async checkCredentials(registry: string, signal: AbortSignal): Promise<void> {
    const repo = { registry, repository: '' };
    const response = await this.request(repo, { method: 'GET', path: '/v2/', scopes: [], signal });
    if (response.status === 401 || response.status === 403) {
      throw await this.authError(repo, response, [], `login to ${registry}`, signal);
    }
    if (response.status !== 200)
      throw await responseError(response, `login to ${registry}`, signal);
    discardBody(response);
  }

  headerValue(response: HttpResponse, name: string): string | undefined {
    return headerValue(response, name);
  }
}
