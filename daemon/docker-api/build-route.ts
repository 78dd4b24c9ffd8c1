import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { PlainDisplay } from '../../builder/index.js';
import { familiarName, parseReference } from '../../registry-client/index.js';
import { parseBuildQuery, type Query } from '../http/build-query.js';
import { submitContext } from '../http/v1-routes.js';
import type { ServiceParts } from '../service.js';
import { dockerBuildParams } from './build-params.js';
import { dockerRoute } from './docker-route.js';
import { JsonMessageStream } from './json-message-stream.js';

/**
 * `POST /build`: Docker's classic build API on the service's queue. The
 * context is read and the build queued as `POST /v1/builds` does (same limits
 * and checks); then its progress, rendered as tbuild's plain output, streams
 * back as `{"stream": …}` messages, and the end as Docker's: the image ID
 * (`{"aux":{"ID":"sha256:<config digest>"}}`, "Successfully built/tagged"),
 * or `{"errorDetail": …}`. A client that hangs up cancels the build.
 */
export function registerBuild(app: FastifyInstance, parts: ServiceParts): void {
  dockerRoute(app, 'POST', '/build', 'build', async (request, reply) => {
    const params = dockerBuildParams(request.query as Query);
    const queried = parseBuildQuery(params.query, parts.config);
    const id = await submitContext(request, parts, queried, request.body as Readable | undefined);
    const out = new JsonMessageStream(reply, () => {
      // As Docker: the client is gone, so is the build.
      void parts.manager.cancel(id).catch(() => undefined);
    });
    const display = new PlainDisplay({
      write: (text) => {
        out.stream(text);
      },
    });
    // Watched in the same turn of the event loop as the submit: the build's first
    // event comes after its record is saved (file I/O), so none is missed.
    const watching = parts.manager.watch(id, (event) => {
      if (!params.quiet) display.sink(event);
    });
    for (const warning of params.warnings) out.stream(`WARNING: ${warning}\n`);
    try {
      await watching.done;
    } finally {
      watching.stop();
    }
    if (!params.quiet) display.finish();
    const record = await parts.manager.get(id);
    const configDigest = record.result?.configDigest;
    if (record.status === 'succeeded' && configDigest !== undefined) {
      out.write({ aux: { ID: configDigest } });
      if (params.quiet) out.stream(`${configDigest}\n`);
      else {
        out.stream(`Successfully built ${configDigest.replace(/^sha256:/, '').slice(0, 12)}\n`);
        for (const tag of record.result?.tags ?? [])
          out.stream(`Successfully tagged ${shown(tag)}\n`);
      }
    } else {
      out.fail(record.error?.message ?? `the build ended ${record.status}`);
    }
    out.end();
  });
}

/** A tag as docker prints it: `app:latest`, `127.0.0.1:5000/team/app:1`. */
function shown(tag: string): string {
  try {
    return familiarName(parseReference(tag));
  } catch {
    return tag;
  }
}
