import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  missingRequirements,
  requires,
  startFaultProxy,
  startRegistry,
  startTokenServer,
  type FaultProxy,
  type TestRegistry,
  type TestTokenServer,
} from '../../harness/index.js';
import {
  RegistryClient,
  dockerConfigCredentials,
  fetchBlob,
  login,
  logout,
  parseReference,
  pushImage,
  resolveImage,
  staticCredentials,
} from '../../../registry-client/index.js';
import { captureLogger, errorText } from './capture-logger.js';
import { randomImage } from './image-fixture.js';

const signal = new AbortController().signal;
const canRun = missingRequirements(['docker-registry']).length === 0;
const PASSWORD = 'Sup3r-Secret-Pa55word';
const WRONG = 'Wr0ng-Guess-Pa55word';
const IDENTITY = 'identity-refresh-token-0123456789';

describe('registry auth against docker-registry 2.8', () => {
  let basic: TestRegistry | undefined;
  let tokens: TestTokenServer | undefined;
  let bearer: TestRegistry | undefined;
  let proxy: FaultProxy | undefined;
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tbuild-auth-test-'));
    if (!canRun) return;
    tokens = await startTokenServer({
      users: { alice: PASSWORD },
      refreshTokens: { [IDENTITY]: 'alice' },
    });
    [basic, bearer] = await Promise.all([
      startRegistry({ auth: { kind: 'htpasswd', users: { alice: PASSWORD } } }),
      startRegistry({ auth: { kind: 'token', server: tokens } }),
    ]);
    proxy = await startFaultProxy(bearer);
  });
  afterAll(async () => {
    await Promise.all([basic?.stop(), bearer?.stop(), proxy?.stop()]);
    await tokens?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  for (const kind of ['htpasswd', 'token'] as const) {
    it(`${kind}: login writes config.json, then push and pull use it; logout removes it`, async (ctx) => {
      requires(ctx, 'docker-registry');
      const registry = (kind === 'htpasswd' ? basic : bearer) as TestRegistry;
      const configDir = path.join(dir, `login-${kind}`);
      const stored = await login(registry.host, 'alice', PASSWORD, { configDir, signal });
      expect(stored.storedIn).toBe(path.join(configDir, 'config.json'));
      const config = JSON.parse(await readFile(path.join(configDir, 'config.json'), 'utf8')) as {
        auths: Record<string, { auth: string }>;
      };
      expect(Buffer.from(config.auths[registry.host]?.auth ?? '', 'base64').toString()).toBe(
        `alice:${PASSWORD}`,
      );

      const logger = captureLogger();
      const client = new RegistryClient({
        credentials: dockerConfigCredentials({ configDir }),
        logger,
      });
      const ref = parseReference(`${registry.host}/private/app:v1`);
      const image = randomImage([5000, 7000]);
      const pushed = await pushImage(client, ref, image.input, ['v1'], { signal });
      const resolved = await resolveImage(client, ref, { signal });
      expect(resolved.manifest.digest).toBe(pushed.digest);
      const layer = resolved.manifest.image.layers[0];
      if (layer === undefined) throw new Error('no layer');
      expect((await buffer(fetchBlob(client, ref, layer, { signal }))).length).toBe(layer.size);
      client.close();
      const logged = logger.lines.join('\n');
      // The requests were logged, Authorization included, but redacted.
      expect(logged).toMatch(/"authorization":"(Basic|Bearer) <redacted>"/);
      expect(logged).not.toContain('_state=');
      expect(logged).not.toContain(PASSWORD);
      expect(logged).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
      expect(logged).not.toMatch(/eyJ[\w-]+\.[\w-]+\./); // no JWT

      expect(await logout(registry.host, { configDir, signal })).toBe(true);
      const after = JSON.parse(await readFile(path.join(configDir, 'config.json'), 'utf8')) as {
        auths: object;
      };
      expect(after.auths).toEqual({});
      const anonymous = new RegistryClient({ credentials: dockerConfigCredentials({ configDir }) });
      const denied = await resolveImage(anonymous, ref, { signal }).catch((e: unknown) => e);
      anonymous.close();
      expect(denied).toMatchObject({ code: 'TB_REGISTRY_AUTH' });
      expect(errorText(denied)).toContain(registry.host);
    });

    it(`${kind}: a wrong password is a clear error naming the registry, never the password`, async (ctx) => {
      requires(ctx, 'docker-registry');
      const registry = (kind === 'htpasswd' ? basic : bearer) as TestRegistry;
      const logger = captureLogger();
      const configDir = path.join(dir, `wrong-${kind}`);
      const error = await login(registry.host, 'alice', WRONG, { configDir, signal, logger }).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'TB_REGISTRY_AUTH' });
      const text = errorText(error);
      expect(text).toContain(registry.host);
      expect(text).not.toContain(WRONG);
      expect(text).not.toContain(Buffer.from(`alice:${WRONG}`).toString('base64'));
      expect(logger.lines.join('\n')).not.toContain(WRONG);
      await expect(readFile(path.join(configDir, 'config.json'))).rejects.toThrow();

      const client = new RegistryClient({
        credentials: staticCredentials({ [registry.host]: { username: 'alice', password: WRONG } }),
      });
      const pushError = await pushImage(
        client,
        parseReference(`${registry.host}/x/y:z`),
        randomImage([10]).input,
        ['z'],
        {
          signal,
        },
      ).catch((e: unknown) => e);
      client.close();
      expect(pushError).toMatchObject({ code: 'TB_REGISTRY_AUTH' });
      expect(errorText(pushError)).not.toContain(WRONG);
    });
  }

  it('token: caches tokens per scope, unions scopes for a mount, and renews a token refused mid-upload', async (ctx) => {
    requires(ctx, 'docker-registry');
    const server = tokens as TestTokenServer;
    const via = proxy as FaultProxy;
    const client = new RegistryClient({
      credentials: staticCredentials({ [via.host]: { username: 'alice', password: PASSWORD } }),
    });
    const source = parseReference(`${via.host}/team/base:v1`);
    const before = server.issued.length;
    await pushImage(client, source, randomImage([3000, 4000, 5000]).input, ['v1'], { signal });
    // One push token serves every blob and the manifest.
    expect(server.issued.length - before).toBe(1);

    // The registry refuses the token in the middle of an upload: the client renews it and sends the PUT again.
    const challenge = `Bearer realm="${server.realm}",service="${server.service}",scope="repository:team/app:pull,push",error="invalid_token"`;
    via.setRules([
      {
        method: 'PUT',
        path: /\/blobs\/uploads\//,
        fault: { kind: 'status', status: 401, headers: { 'www-authenticate': challenge } },
      },
    ]);
    const target = parseReference(`${via.host}/team/app:v1`);
    const issuedBefore = server.issued.length;
    const requestsBefore = via.requests.length;
    const pushed = await pushImage(client, target, randomImage([6000]).input, ['v1'], { signal });
    const appTokens = server.issued
      .slice(issuedBefore)
      .filter((t) => t.scopes.includes('repository:team/app:pull,push'));
    expect(appTokens.length).toBe(2); // the first, refused, and its renewal
    const puts = via.requests
      .slice(requestsBefore)
      .filter((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/'));
    expect(puts[0]?.fault).toBe('status');
    expect(puts.length).toBeGreaterThanOrEqual(3); // refused one, then config and layer
    expect((await resolveImage(client, target, { signal })).manifest.digest).toBe(pushed.digest);

    // A mount needs pull on the source and push on the target in one token.
    const mountTarget = parseReference(`${via.host}/team/other:v1`);
    const mountIssued = server.issued.length;
    const layers = randomImage([2000]);
    await pushImage(client, source, layers.input, [], { signal });
    const mounted = await pushImage(client, mountTarget, layers.input, ['v1'], {
      signal,
      mountFrom: ['team/base'],
    });
    expect([...mounted.blobs.values()]).toEqual(['mounted', 'mounted']);
    const mountToken = server.issued
      .slice(mountIssued)
      .find((t) => t.scopes.includes('repository:team/base:pull'));
    expect(mountToken?.scopes).toContain('repository:team/other:pull,push');
    client.close();
    via.setRules([]);
  });

  it('token: exchanges a config.json identitytoken with the OAuth2 refresh grant', async (ctx) => {
    requires(ctx, 'docker-registry');
    const registry = bearer as TestRegistry;
    const configDir = path.join(dir, 'identity');
    await mkdir(configDir, { recursive: true });
    const ref = parseReference(`${registry.host}/oauth/app:v1`);
    for (const [token, ok] of [
      [IDENTITY, true],
      ['not-the-refresh-token', false],
    ] as const) {
      await writeFile(
        path.join(configDir, 'config.json'),
        JSON.stringify({ auths: { [registry.host]: { identitytoken: token } } }),
      );
      const logger = captureLogger();
      const client = new RegistryClient({
        credentials: dockerConfigCredentials({ configDir }),
        logger,
      });
      const result = await pushImage(client, ref, randomImage([300]).input, ['v1'], {
        signal,
      }).catch((e: unknown) => e);
      client.close();
      if (ok)
        expect(result).toMatchObject({ digest: expect.stringMatching(/^sha256:/) as unknown });
      else {
        expect(result).toMatchObject({ code: 'TB_REGISTRY_AUTH' });
        expect(errorText(result)).toContain(registry.host);
        expect(errorText(result)).not.toContain(token);
      }
      expect(logger.lines.join('\n')).not.toContain(token);
    }
  });

  it('reads credentials from a docker-credential helper and stores them with one on login', async (ctx) => {
    requires(ctx, 'docker-registry');
    const registry = basic as TestRegistry;
    const helperDir = path.join(dir, 'helpers');
    const configDir = path.join(dir, 'helper-config');
    const storeFile = path.join(dir, 'helper-stored.json');
    await mkdir(helperDir, { recursive: true });
    await mkdir(configDir, { recursive: true });
    const script = [
      '#!/bin/sh',
      'case "$1" in',
      `  get) read server; if [ "$server" = "${registry.host}" ]; then printf '{"ServerURL":"%s","Username":"alice","Secret":"${PASSWORD}"}' "$server"; else echo "credentials not found in native keychain"; exit 1; fi ;;`,
      `  store) cat > ${storeFile} ;;`,
      '  erase) cat > /dev/null ;;',
      'esac',
      '',
    ].join('\n');
    await writeFile(path.join(helperDir, 'docker-credential-tbtest'), script);
    await chmod(path.join(helperDir, 'docker-credential-tbtest'), 0o755);
    await writeFile(
      path.join(configDir, 'config.json'),
      JSON.stringify({ credHelpers: { [registry.host]: 'tbtest' } }),
    );

    const client = new RegistryClient({
      credentials: dockerConfigCredentials({ configDir, helperDir }),
    });
    const ref = parseReference(`${registry.host}/helper/app:v1`);
    const pushed = await pushImage(client, ref, randomImage([100]).input, ['v1'], { signal });
    expect((await resolveImage(client, ref, { signal })).manifest.digest).toBe(pushed.digest);
    client.close();

    const stored = await login(registry.host, 'alice', PASSWORD, { configDir, helperDir, signal });
    expect(stored.storedIn).toBe('docker-credential-tbtest');
    expect(JSON.parse(await readFile(storeFile, 'utf8'))).toEqual({
      ServerURL: registry.host,
      Username: 'alice',
      Secret: PASSWORD,
    });
    const config = await readFile(path.join(configDir, 'config.json'), 'utf8');
    expect(config).not.toContain(PASSWORD);
  });
});
