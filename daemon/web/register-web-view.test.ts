import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerWebView } from './register-web-view.js';

async function app() {
  const instance = Fastify({ logger: false });
  registerWebView(instance);
  await instance.ready();
  return instance;
}

describe('registerWebView', () => {
  it('serves the page at / and its modules under /web/, locked to this origin', async () => {
    const web = await app();
    const page = await web.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<script type="module" src="/web/main.js">');
    const script = await web.inject({ method: 'GET', url: '/web/main.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['x-content-type-options']).toBe('nosniff');
    await web.close();
  });

  it('serves only the files of the page, never a path built from the request', async () => {
    const web = await app();
    for (const url of [
      '/web/nothing.js',
      '/web/..%2fstatic-dir.ts',
      '/web/..%2f..%2f..%2fpackage.json',
      '/web/%2e%2e%2fregister-web-view.ts',
    ]) {
      const response = await web.inject({ method: 'GET', url });
      expect(response.statusCode, url).not.toBe(200);
    }
    await web.close();
  });
});
