import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgents, destroyAgents, readBody, sendRequest } from './http-transport.js';

/** Real loopback servers: a "registry" that redirects blob GETs to "storage" on another origin. */
describe('sendRequest redirects', () => {
  const seen: { server: string; authorization: string | undefined }[] = [];
  let registry: http.Server;
  let storage: http.Server;
  let registryUrl = '';
  let storageUrl = '';
  const agents = createAgents({ verifyTls: true });
  const signal = new AbortController().signal;

  const listen = async (server: http.Server): Promise<string> => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  };

  beforeAll(async () => {
    storage = http.createServer((req, res) => {
      seen.push({ server: 'storage', authorization: req.headers.authorization });
      res.end('blob');
    });
    registry = http.createServer((req, res) => {
      seen.push({ server: 'registry', authorization: req.headers.authorization });
      if (req.url === '/same') res.writeHead(307, { location: '/final' }).end();
      else if (req.url === '/final') res.end('same-origin');
      else res.writeHead(307, { location: `${storageUrl}/presigned?sig=1` }).end();
    });
    storageUrl = await listen(storage);
    registryUrl = await listen(registry);
  });
  afterAll(() => {
    destroyAgents(agents);
    registry.close();
    storage.close();
  });

  it('drops Authorization when a redirect leaves the origin, keeps it within', async () => {
    const headers = { authorization: 'Bearer secret-token' };
    const away = await sendRequest(agents, {
      method: 'GET',
      url: new URL('/blob', registryUrl),
      headers,
      signal,
      followRedirects: true,
    });
    expect((await readBody(away, 1000, signal)).toString()).toBe('blob');
    const within = await sendRequest(agents, {
      method: 'GET',
      url: new URL('/same', registryUrl),
      headers,
      signal,
      followRedirects: true,
    });
    expect((await readBody(within, 1000, signal)).toString()).toBe('same-origin');
    expect(seen).toEqual([
      { server: 'registry', authorization: 'Bearer secret-token' },
      { server: 'storage', authorization: undefined },
      { server: 'registry', authorization: 'Bearer secret-token' },
      { server: 'registry', authorization: 'Bearer secret-token' },
    ]);
  });

  it('returns the redirect itself when not following', async () => {
    const response = await sendRequest(agents, {
      method: 'GET',
      url: new URL('/blob', registryUrl),
      signal,
    });
    response.body.resume();
    expect(response.status).toBe(307);
  });
});
