import type { FastifyInstance, FastifyReply } from 'fastify';
import { TbuildError } from '../../core/index.js';
import { findStaticDir } from './static-dir.js';
import { loadStaticFiles, type StaticFile } from './static-files.js';

/** Where the page's scripts and styles are served; `/` is the page itself. */
export const WEB_ASSET_PREFIX = '/web/';

/**
 * The page may load only its own files and talk only to this service: the
 * data it shows (log text, step names) is untrusted, and this keeps a slip in
 * escaping from running anything.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The web view: `/` and its files under `/web/`. Public routes, as they hold
 * no data: the page reads the `/v1` API with the caller's token.
 */
export function registerWebView(app: FastifyInstance): void {
  const files = loadStaticFiles(findStaticDir());
  const page = files.get('index.html');
  if (page === undefined)
    throw new TbuildError('TB_INTERNAL', "the web view's index.html is missing");
  app.get('/', { config: { public: true } }, async (_request, reply) => send(reply, page));
  app.get(`${WEB_ASSET_PREFIX}:name`, { config: { public: true } }, async (request, reply) => {
    const { name } = request.params as { name: string };
    const file = files.get(name);
    if (file === undefined)
      throw new TbuildError('TB_SERVICE_NOT_FOUND', `the web view has no file ${name}`);
    return send(reply, file);
  });
}

function send(reply: FastifyReply, file: StaticFile): FastifyReply {
  return reply
    .type(file.contentType)
    .header('cache-control', 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('referrer-policy', 'no-referrer')
    .send(file.body);
}
