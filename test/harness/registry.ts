import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import type { TestTokenServer } from './token-server.js';

const run = promisify(execFile);

/**
 * Starts Debian's `docker-registry` (distribution 2.8) on a free loopback port with a temp
 * storage dir and a generated config: no auth, htpasswd (bcrypt, generated here) or token
 * auth against a {@link TestTokenServer}. Port 5000 may be taken on a shared machine, so the
 * registry listens on 127.0.0.1:0 and we read the port from its log.
 */

export type RegistryAuthSetup =
  | { readonly kind: 'none' }
  | { readonly kind: 'htpasswd'; readonly users: Readonly<Record<string, string>> }
  | { readonly kind: 'token'; readonly server: TestTokenServer };

export interface RegistryOptions {
  readonly auth?: RegistryAuthSetup;
  /** Send relative Location headers (`http.relativeurls`), to exercise their handling. */
  readonly relativeUrls?: boolean;
  /** Serve HTTPS with a fresh self-signed certificate (for `insecure` registry settings). */
  readonly tls?: boolean;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>`, as in image references. */
  readonly host: string;
  readonly port: number;
  readonly storageDir: string;
  /** Everything the registry logged so far. */
  logs(): string;
  stop(): Promise<void>;
}

function authConfig(auth: RegistryAuthSetup, htpasswdFile: string): string {
  switch (auth.kind) {
    case 'none':
      return '';
    case 'htpasswd':
      return `auth:\n  htpasswd:\n    realm: tbuild-test\n    path: ${htpasswdFile}\n`;
    case 'token':
      return [
        'auth:',
        '  token:',
        `    realm: ${auth.server.realm}`,
        `    service: ${auth.server.service}`,
        `    issuer: ${auth.server.issuer}`,
        `    rootcertbundle: ${auth.server.certFile}`,
        '',
      ].join('\n');
  }
}

/** `http.tls` lines for a self-signed certificate made with openssl. */
async function selfSignedTls(dir: string): Promise<string[]> {
  const key = path.join(dir, 'tls-key.pem');
  const cert = path.join(dir, 'tls-cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-days',
    '2',
  ]);
  return ['  tls:', `    certificate: ${cert}`, `    key: ${key}`];
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tbuild-registry-'));
  const storageDir = path.join(dir, 'storage');
  const htpasswdFile = path.join(dir, 'htpasswd');
  const auth = options.auth ?? { kind: 'none' };
  if (auth.kind === 'htpasswd') {
    const lines = Object.entries(auth.users).map(
      ([user, password]) => `${user}:${bcrypt.hashSync(password, 4)}`,
    );
    await writeFile(htpasswdFile, `${lines.join('\n')}\n`);
  }
  const config = [
    'version: 0.1',
    'log:',
    '  level: info',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    '  addr: 127.0.0.1:0',
    `  secret: ${randomBytes(16).toString('hex')}`,
    `  relativeurls: ${options.relativeUrls === true ? 'true' : 'false'}`,
    ...(options.tls === true ? await selfSignedTls(dir) : []),
    authConfig(auth, htpasswdFile),
  ].join('\n');
  const configFile = path.join(dir, 'config.yml');
  await writeFile(configFile, config);

  const child: ChildProcess = spawn('docker-registry', ['serve', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`docker-registry did not start:\n${output}`));
    }, 15_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`docker-registry exited with ${String(code)}:\n${output}`));
    });
  });
  return {
    host: `127.0.0.1:${String(port)}`,
    port,
    storageDir,
    logs: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) =>
          child.once('exit', () => {
            resolve();
          }),
        );
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
