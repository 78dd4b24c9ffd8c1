import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Query } from '../http/build-query.js';
import type { ServiceParts } from '../service.js';
import { findLocalImage, normalizeRequestedName } from './local-images.js';

/**
 * `POST /images/{name}/tag?repo=R&tag=T`: gives a local image another name
 * (`R:T`, `R:latest` without a tag), as `docker tag` does. 201, no body.
 */
export async function tagImage(
  request: FastifyRequest,
  reply: FastifyReply,
  parts: ServiceParts,
  name: string,
): Promise<FastifyReply> {
  const query = request.query as Query;
  const repo = last(query['repo']) ?? '';
  const tag = last(query['tag']) ?? '';
  const target = normalizeRequestedName(tag === '' ? repo : `${repo}:${tag}`);
  const source = await findLocalImage(parts.engine, name, AbortSignal.timeout(60_000));
  await parts.engine.store.images.put(target, source.record.target, source.record.manifests);
  return reply.code(201).send();
}

export function last(value: Query[string]): string | undefined {
  return typeof value === 'string' ? value : value?.at(-1);
}
