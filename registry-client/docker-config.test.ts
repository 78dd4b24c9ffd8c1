import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  configKey,
  dockerConfigCredentials,
  dockerConfigDir,
  eraseCredentials,
  storeCredentials,
} from './docker-config.js';

const signal = new AbortController().signal;
let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tbuild-docker-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(config: unknown): Promise<void> {
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
}

describe('docker config.json credentials', () => {
  it('reads base64 auth, username/password, identity and registry tokens, and legacy keys', async () => {
    await writeConfig({
      auths: {
        'a.example': { auth: Buffer.from('al:ice:pw').toString('base64') },
        'https://b.example/v1/': { username: 'bob', password: 'pw2' },
        'c.example': { identitytoken: 'refresh' },
        'd.example': { registrytoken: 'bearer-token' },
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw3').toString('base64') },
        'e.example': {},
      },
    });
    const store = dockerConfigCredentials({ configDir: dir });
    expect((await store.get('a.example', signal)).credential).toEqual({
      username: 'al',
      password: 'ice:pw',
    });
    expect((await store.get('b.example', signal)).credential).toEqual({
      username: 'bob',
      password: 'pw2',
    });
    expect((await store.get('c.example', signal)).credential).toEqual({ identityToken: 'refresh' });
    expect((await store.get('d.example', signal)).credential).toEqual({
      registryToken: 'bearer-token',
    });
    expect((await store.get('docker.io', signal)).credential).toEqual({
      username: 'hub',
      password: 'pw3',
    });
    expect((await store.get('e.example', signal)).credential).toBeUndefined();
    expect((await store.get('none.example', signal)).source).toMatch(/anonymous/);
  });

  it('treats a missing file as no credentials and a broken one as an error', async () => {
    const store = dockerConfigCredentials({ configDir: dir });
    expect((await store.get('x.example', signal)).credential).toBeUndefined();
    await writeFile(path.join(dir, 'config.json'), '{not json');
    await expect(store.get('x.example', signal)).rejects.toMatchObject({
      code: 'TB_REGISTRY_CREDENTIALS',
    });
  });

  it('asks credHelpers before credsStore, and reads <token> as an identity token', async () => {
    const helper = (name: string, user: string): string =>
      `#!/bin/sh\nread server\nprintf '{"ServerURL":"%s","Username":"${user}","Secret":"${name}-secret"}' "$server"\n`;
    await writeFile(path.join(dir, 'docker-credential-per'), helper('per', 'u1'));
    await writeFile(path.join(dir, 'docker-credential-all'), helper('all', '<token>'));
    await chmod(path.join(dir, 'docker-credential-per'), 0o755);
    await chmod(path.join(dir, 'docker-credential-all'), 0o755);
    await writeConfig({ credsStore: 'all', credHelpers: { 'p.example': 'per' } });
    const store = dockerConfigCredentials({ configDir: dir, helperDir: dir });
    expect(await store.get('p.example', signal)).toEqual({
      credential: { username: 'u1', password: 'per-secret' },
      source: 'credential helper docker-credential-per',
    });
    expect((await store.get('q.example', signal)).credential).toEqual({
      identityToken: 'all-secret',
    });
  });

  it('falls back to auths when the helper has nothing, and reports a missing helper', async () => {
    await writeFile(
      path.join(dir, 'docker-credential-empty'),
      '#!/bin/sh\necho "credentials not found in native keychain"\nexit 1\n',
    );
    await chmod(path.join(dir, 'docker-credential-empty'), 0o755);
    await writeConfig({
      credsStore: 'empty',
      auths: { 'r.example': { username: 'x', password: 'y' } },
    });
    const store = dockerConfigCredentials({ configDir: dir, helperDir: dir });
    expect((await store.get('r.example', signal)).credential).toEqual({
      username: 'x',
      password: 'y',
    });
    await writeConfig({ credsStore: 'missing' });
    await expect(store.get('r.example', signal)).rejects.toMatchObject({
      code: 'TB_REGISTRY_CREDENTIALS',
    });
  });

  it('stores and erases like docker login/logout, keeping other fields, mode 0600', async () => {
    await writeConfig({ auths: { 'other.example': { auth: 'b3RoZXI6eA==' } }, psFormat: 'table' });
    await storeCredentials('docker.io', 'me', 'pw', { configDir: dir, signal });
    const file = path.join(dir, 'config.json');
    const written = JSON.parse(await readFile(file, 'utf8')) as {
      auths: Record<string, { auth: string }>;
      psFormat: string;
    };
    expect(written.psFormat).toBe('table');
    expect(Object.keys(written.auths).sort()).toEqual([
      'https://index.docker.io/v1/',
      'other.example',
    ]);
    expect(
      Buffer.from(written.auths[configKey('docker.io')]?.auth ?? '', 'base64').toString(),
    ).toBe('me:pw');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await eraseCredentials('docker.io', { configDir: dir, signal })).toBe(true);
    const erased = JSON.parse(await readFile(file, 'utf8')) as { auths: Record<string, unknown> };
    expect(Object.keys(erased.auths)).toEqual(['other.example']);
    expect(await eraseCredentials('docker.io', { configDir: dir, signal })).toBe(false);
  });

  it('finds the config directory from DOCKER_CONFIG or HOME', () => {
    expect(dockerConfigDir({ DOCKER_CONFIG: '/x', HOME: '/h' })).toBe('/x');
    expect(dockerConfigDir({ HOME: '/h' })).toBe('/h/.docker');
  });
});
