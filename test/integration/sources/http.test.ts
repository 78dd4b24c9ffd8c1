/**
 * ADD <url>: a real HTTP server on 127.0.0.1 serving files, redirects, errors, a slow
 * body and Content-Disposition names, fetched with fetchHttp.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError, neverAborted } from '../../../core/index.js';
import { fetchHttp, httpCacheKey, httpPinnedCacheKey } from '../../../worker/index.js';
import { startHttpServer, type TestHttpServer } from './http-server.js';

const BODY = 'hello from the server\n';
const BODY_DIGEST = `sha256:${createHash('sha256').update(BODY).digest('hex')}`;
const LAST_MODIFIED = 'Wed, 21 Oct 2015 07:28:00 GMT';

let server: TestHttpServer;
let dest: string;

beforeEach(async () => {
  server = await startHttpServer();
  dest = mkdtempSync(`${tmpdir()}/tbuild-http-`);
  server.route('/files/hello.txt', (_request, response) => {
    response.writeHead(200, { 'last-modified': LAST_MODIFIED, etag: '"v1"' }).end(BODY);
  });
  server.route('/moved', (_request, response) => {
    response.writeHead(302, { location: '/files/hello.txt' }).end();
  });
});

afterEach(async () => {
  await server.close();
  rmSync(dest, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('fetchHttp', () => {
  it('downloads a file with mode 0600, its digest, and Last-Modified as mtime', async () => {
    const result = await fetchHttp(
      { type: 'http', url: `${server.url}/files/hello.txt` },
      { destDir: dest, signal: neverAborted },
    );
    expect(result.filename).toBe('hello.txt');
    expect(result.path).toBe(`${dest}/hello.txt`);
    expect(readFileSync(result.path, 'utf8')).toBe(BODY);
    expect(result.digest).toBe(BODY_DIGEST);
    expect(result.etag).toBe('"v1"');
    const stats = statSync(result.path);
    expect(stats.mode & 0o7777).toBe(0o600);
    expect(stats.mtime.getTime()).toBe(Date.parse(LAST_MODIFIED));
    expect(result.lastModified?.getTime()).toBe(Date.parse(LAST_MODIFIED));
    expect(readdirSync(dest)).toEqual(['hello.txt']); // no temporary file left
  });

  it('sets the mtime to the epoch without Last-Modified, as BuildKit does', async () => {
    server.route('/plain', (_request, response) => response.end('x'));
    const result = await fetchHttp(
      { type: 'http', url: `${server.url}/plain` },
      { destDir: dest, signal: neverAborted },
    );
    expect(statSync(result.path).mtime.getTime()).toBe(0);
    expect(result.lastModified).toBeUndefined();
  });

  it('follows redirects and names the file after the requested URL', async () => {
    const result = await fetchHttp(
      { type: 'http', url: `${server.url}/moved` },
      { destDir: dest, signal: neverAborted },
    );
    expect(result.filename).toBe('moved');
    expect(readFileSync(result.path, 'utf8')).toBe(BODY);
  });

  it('names files: explicit, then Content-Disposition, then the URL, then "download"', async () => {
    server.route('/cd/archive', (_request, response) => {
      response.writeHead(200, {
        'content-disposition': 'attachment; filename="../../evil name.tgz"',
      });
      response.end('cd');
    });
    server.route('/', (_request, response) => response.end('root'));
    const cd = await fetchHttp(
      { type: 'http', url: `${server.url}/cd/archive` },
      { destDir: dest, signal: neverAborted },
    );
    expect(cd.filename).toBe('evil name.tgz');
    const explicit = await fetchHttp(
      { type: 'http', url: `${server.url}/cd/archive`, filename: 'chosen.bin' },
      { destDir: dest, signal: neverAborted },
    );
    expect(explicit.filename).toBe('chosen.bin');
    const root = await fetchHttp(
      { type: 'http', url: `${server.url}/` },
      { destDir: dest, signal: neverAborted },
    );
    expect(root.filename).toBe('download');
    expect(readFileSync(`${dest}/download`, 'utf8')).toBe('root');
    expect(readdirSync(dest).sort()).toEqual(['chosen.bin', 'download', 'evil name.tgz']);
  });

  it('verifies --checksum and reports both digests on a mismatch, keeping nothing', async () => {
    const ok = await fetchHttp(
      { type: 'http', url: `${server.url}/files/hello.txt`, checksum: BODY_DIGEST },
      { destDir: dest, signal: neverAborted },
    );
    expect(ok.digest).toBe(BODY_DIGEST);
    rmSync(ok.path);
    const wrong = `sha256:${'0'.repeat(64)}`;
    const error = await rejection(
      fetchHttp(
        { type: 'http', url: `${server.url}/files/hello.txt`, checksum: wrong },
        { destDir: dest, signal: neverAborted },
      ),
    );
    expect(isTbuildError(error, 'TB_CHECKSUM_MISMATCH')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(BODY_DIGEST);
    expect(message).toContain(wrong);
    expect(message).toContain(`${server.url}/files/hello.txt`);
    expect(readdirSync(dest)).toEqual([]);
  });

  it('refuses a malformed checksum before any request', async () => {
    const error = await rejection(
      fetchHttp(
        { type: 'http', url: `${server.url}/files/hello.txt`, checksum: 'md5:abc' },
        { destDir: dest, signal: neverAborted },
      ),
    );
    expect(isTbuildError(error, 'TB_CHECKSUM_INVALID')).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it('fails on 404 and 500 with the status, leaving no file', async () => {
    server.route('/broken', (_request, response) => response.writeHead(500).end('oops'));
    for (const path of ['/missing', '/broken']) {
      const error = await rejection(
        fetchHttp(
          { type: 'http', url: `${server.url}${path}` },
          { destDir: dest, signal: neverAborted },
        ),
      );
      expect(isTbuildError(error, 'TB_HTTP_SOURCE')).toBe(true);
      expect((error as Error).message).toMatch(path === '/missing' ? /404/ : /500/);
    }
    expect(readdirSync(dest)).toEqual([]);
  });

  it('fails on a redirect loop and on a refused connection', async () => {
    server.route('/loop', (_request, response) =>
      response.writeHead(302, { location: '/loop' }).end(),
    );
    const loop = await rejection(
      fetchHttp(
        { type: 'http', url: `${server.url}/loop` },
        { destDir: dest, signal: neverAborted },
      ),
    );
    expect(isTbuildError(loop, 'TB_HTTP_SOURCE')).toBe(true);
    const closedUrl = server.url;
    await server.close();
    const refused = await rejection(
      fetchHttp({ type: 'http', url: `${closedUrl}/x` }, { destDir: dest, signal: neverAborted }),
    );
    expect(isTbuildError(refused, 'TB_HTTP_SOURCE')).toBe(true);
    server = await startHttpServer();
  });

  it('sends URL credentials as Basic auth and never shows them in messages', async () => {
    server.route('/private/secret.txt', (request, response) => {
      if (
        request.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`
      ) {
        response.writeHead(401).end();
        return;
      }
      response.end('private');
    });
    const url = server.url.replace('http://', 'http://alice:s3cret@');
    const ok = await fetchHttp(
      { type: 'http', url: `${url}/private/secret.txt` },
      { destDir: dest, signal: neverAborted },
    );
    expect(readFileSync(ok.path, 'utf8')).toBe('private');
    const wrong = server.url.replace('http://', 'http://alice:wrong-pass@');
    const error = await rejection(
      fetchHttp(
        { type: 'http', url: `${wrong}/private/secret.txt` },
        { destDir: dest, signal: neverAborted },
      ),
    );
    expect(isTbuildError(error, 'TB_HTTP_SOURCE')).toBe(true);
    expect((error as Error).message).toMatch(/401/);
    expect(JSON.stringify(error) + (error as Error).message).not.toContain('wrong-pass');
    const mismatch = await rejection(
      fetchHttp(
        { type: 'http', url: `${url}/private/secret.txt`, checksum: `sha256:${'1'.repeat(64)}` },
        { destDir: dest, signal: neverAborted },
      ),
    );
    expect(isTbuildError(mismatch, 'TB_CHECKSUM_MISMATCH')).toBe(true);
    expect((mismatch as Error).message).not.toContain('s3cret');
    expect((mismatch as Error).message).toContain('xxxxx@127.0.0.1');
  });

  it('streams a slow body with progress, and an abort mid-body leaves no file', async () => {
    const chunks = 5;
    const chunk = Buffer.alloc(1000, 0x61);
    server.route('/slow', (_request, response) => {
      response.writeHead(200, { 'content-length': String(chunks * chunk.length) });
      let sent = 0;
      const timer = setInterval(() => {
        response.write(chunk);
        if (++sent === chunks) {
          clearInterval(timer);
          response.end();
        }
      }, 40);
      response.on('close', () => {
        clearInterval(timer);
      });
    });
    const seen: Array<[number, number | undefined]> = [];
    const result = await fetchHttp(
      { type: 'http', url: `${server.url}/slow` },
      {
        destDir: dest,
        signal: neverAborted,
        progress: (current, total) => seen.push([current, total]),
      },
    );
    expect(statSync(result.path).size).toBe(chunks * chunk.length);
    expect(seen.length).toBeGreaterThanOrEqual(chunks);
    expect(seen.at(-1)).toEqual([chunks * chunk.length, chunks * chunk.length]);
    rmSync(result.path);

    const controller = new AbortController();
    const aborted = await rejection(
      fetchHttp(
        { type: 'http', url: `${server.url}/slow` },
        {
          destDir: dest,
          signal: controller.signal,
          progress: (current) => {
            if (current >= 2 * chunk.length) controller.abort();
          },
        },
      ),
    );
    expect(isTbuildError(aborted, 'TB_CANCELED')).toBe(true);
    expect(readdirSync(dest)).toEqual([]);
  });

  it('gives an unchanged download the same cache key, and a changed one another', async () => {
    let body = 'one';
    server.route('/changing.txt', (_request, response) => {
      response.writeHead(200, { 'last-modified': LAST_MODIFIED }).end(body);
    });
    const fetchKey = async (): Promise<string> => {
      const result = await fetchHttp(
        { type: 'http', url: `${server.url}/changing.txt` },
        { destDir: dest, signal: neverAborted },
      );
      return httpCacheKey(result);
    };
    const first = await fetchKey();
    expect(await fetchKey()).toBe(first);
    body = 'two';
    expect(await fetchKey()).not.toBe(first);
    const pinned = httpPinnedCacheKey({
      type: 'http',
      url: `${server.url}/changing.txt`,
      checksum: BODY_DIGEST,
    });
    expect(pinned).toMatch(/^sha256:/);
    expect(httpPinnedCacheKey({ type: 'http', url: `${server.url}/changing.txt` })).toBeUndefined();
  });
});
