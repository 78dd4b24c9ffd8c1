import { execFile } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A token server for `docker-registry` token auth (distribution 2.8): issues ES256 JWTs
 * whose `x5c` header carries a self-signed certificate that the registry trusts through
 * `auth.token.rootcertbundle`. 2.8 wants `aud` as one string and a raw r‖s signature.
 * Users are checked with HTTP Basic; anonymous callers get only what `anonymous` allows.
 */

const run = promisify(execFile);

export interface TokenServerOptions {
  readonly users: Readonly<Record<string, string>>;
  /** Actions an anonymous caller may have; default none. */
  readonly anonymousActions?: readonly string[];
  readonly service?: string;
  readonly issuer?: string;
  /** OAuth2 refresh tokens (docker's `identitytoken`) accepted by `POST` with grant_type=refresh_token → account. */
  readonly refreshTokens?: Readonly<Record<string, string>>;
  /** Seconds reported as `expires_in`; default 300. */
  readonly expiresIn?: number;
}

export interface IssuedToken {
  readonly account: string;
  readonly scopes: readonly string[];
}

export interface TestTokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file for the registry's rootcertbundle. */
  readonly certFile: string;
  /** Every token handed out, in order. */
  readonly issued: IssuedToken[];
  /** Requests refused for bad credentials. */
  readonly refusals: number;
  stop(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function parseScopes(
  scopes: readonly string[],
): { type: string; name: string; actions: string[] }[] {
  return scopes
    .flatMap((s) => s.split(' '))
    .filter((s) => s !== '')
    .map((s) => {
      const first = s.indexOf(':');
      const last = s.lastIndexOf(':');
      return {
        type: s.slice(0, first),
        name: s.slice(first + 1, last),
        actions: s.slice(last + 1).split(','),
      };
    });
}

export async function startTokenServer(options: TokenServerOptions): Promise<TestTokenServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tbuild-token-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-subj',
    '/CN=tbuild-test-token',
    '-days',
    '2',
  ]);
  const key = createPrivateKey(await readFile(keyFile));
  const certDer = new X509Certificate(await readFile(certFile)).raw;
  const service = options.service ?? 'tbuild-test-registry';
  const issuer = options.issuer ?? 'tbuild-test-issuer';
  const issued: IssuedToken[] = [];
  let refusals = 0;

  const refuse = (res: http.ServerResponse): void => {
    refusals++;
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ details: 'invalid credentials' }));
  };
  const handle = (req: http.IncomingMessage, body: string, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let account = '';
    let scopes = url.searchParams.getAll('scope');
    const header = req.headers.authorization;
    if (req.method === 'POST') {
      const form = new URLSearchParams(body);
      const user = options.refreshTokens?.[form.get('refresh_token') ?? ''];
      if (form.get('grant_type') !== 'refresh_token' || user === undefined) {
        refuse(res);
        return;
      }
      account = user;
      scopes = (form.get('scope') ?? '').split(' ');
    } else if (header !== undefined) {
      const [user = '', password] = Buffer.from(header.replace(/^Basic /i, ''), 'base64')
        .toString('utf8')
        .split(/:(.*)/s);
      if (options.users[user] === undefined || options.users[user] !== password) {
        refuse(res);
        return;
      }
      account = user;
    }
    const allowed =
      account === ''
        ? new Set(options.anonymousActions ?? [])
        : new Set(['pull', 'push', 'delete', '*']);
    const access = parseScopes(scopes).map((s) => ({
      ...s,
      actions: s.actions.filter((a) => allowed.has(a)),
    }));
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = options.expiresIn ?? 300;
    const headerJson = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: issuer,
      sub: account,
      aud: service,
      exp: now + expiresIn,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(headerJson))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${signingInput}.${base64url(signature)}`;
    issued.push({ account, scopes: scopes.filter((x) => x !== '') });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: expiresIn,
        issued_at: new Date(now * 1000).toISOString(),
      }),
    );
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks).toString('utf8'), res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${String(port)}/token`,
    service,
    issuer,
    certFile,
    issued,
    get refusals() {
      return refusals;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
}
