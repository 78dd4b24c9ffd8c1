import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  noopLogger,
  TbuildError,
  toTbuildError,
  type Descriptor,
  type Digest,
} from '../../core/index.js';
import {
  familiarName,
  parseReference,
  type PushBlobResult,
  type RegistryClient,
} from '../../registry-client/index.js';
import { pushStoredImage } from '../../worker/index.js';
import type { Query } from '../http/build-query.js';
import type { ServiceParts } from '../service.js';
import { JsonMessageStream } from './json-message-stream.js';
import { last } from './image-tag.js';
import { normalizeRequestedName } from './local-images.js';
import { clientWithCredential, decodeRegistryAuth } from './registry-auth-header.js';

/** How often one blob's "Pushing" progress is sent at most. */
const PROGRESS_INTERVAL_MS = 500;

const BLOB_STATUS: Readonly<Record<PushBlobResult, string>> = {
  uploaded: 'Pushed',
  mounted: 'Mounted from another repository',
  exists: 'Layer already exists',
};

/**
 * `POST /images/{name}/push?tag=T`: pushes local images to their registry
 * with the worker's push (blobs, then the manifest as stored), as `docker
 * push` does: `name:T`, or every local tag of the repository without `tag`.
 * Credentials come from `X-Registry-Auth`; without any, the service's own
 * (its docker config) are used, as for builds with push. Progress streams as
 * Docker's `{"status": …, "id": …}` messages, then `{"aux":{"Tag","Digest","Size"}}`
 * per tag. A client that hangs up stops the push.
 */
export async function pushImage(
  request: FastifyRequest,
  reply: FastifyReply,
  parts: ServiceParts,
  name: string,
): Promise<void> {
  const tag = last((request.query as Query)['tag']) ?? '';
  const repository = parseReference(normalizeRequestedName(name));
  const names = await namesToPush(parts, name, tag);
  const credential = decodeRegistryAuth(request.headers['x-registry-auth']);
  const client: RegistryClient | undefined =
    credential === undefined
      ? parts.engine.registryClient()
      : clientWithCredential(repository.registry, credential, parts.registry, noopLogger);
  if (client === undefined)
    throw new TbuildError('TB_INTERNAL', 'the service was started without registry settings');
  const controller = new AbortController();
  const out = new JsonMessageStream(reply, () => {
    controller.abort(new TbuildError('TB_CANCELED', 'the client hung up'));
  });
  try {
    const familiarRepo = familiarName({ ...repository, tag: undefined, digest: undefined });
    out.write({ status: `The push refers to repository [${familiarRepo}]` });
    for (const { normalized, target } of names) {
      const shownTag = parseReference(normalized).tag ?? 'latest';
      const lastSent = new Map<Digest, number>();
      const result = await pushStoredImage(parts.engine.store, client, target, normalized, {
        signal: controller.signal,
        // An image built here gets its manifest now, its layers compressed if not before.
        pool: parts.engine.pool,
        onProgress: (digest, sent, total) => {
          const now = Date.now();
          if (sent < total && now - (lastSent.get(digest) ?? 0) < PROGRESS_INTERVAL_MS) return;
          lastSent.set(digest, now);
          out.write({
            status: 'Pushing',
            id: shortId(digest),
            progressDetail: { current: sent, total },
          });
        },
      });
      for (const [digest, how] of result.blobs)
        out.write({ status: BLOB_STATUS[how], id: shortId(digest), progressDetail: {} });
      const size = (await parts.engine.store.content.info(result.digest))?.size ?? target.size;
      out.write({ status: `${shownTag}: digest: ${result.digest} size: ${String(size)}` });
      out.write({ progressDetail: {}, aux: { Tag: shownTag, Digest: result.digest, Size: size } });
    }
  } catch (error) {
    out.fail(toTbuildError(error).message);
  } finally {
    if (credential !== undefined) client.close();
    out.end();
  }
}

/** The local names a push sends: `name:tag`, or every tag of the repository when no tag is given. */
async function namesToPush(
  parts: ServiceParts,
  name: string,
  tag: string,
): Promise<{ normalized: string; target: Descriptor }[]> {
  const images = parts.engine.store.images;
  if (tag !== '') {
    const normalized = normalizeRequestedName(`${name}:${tag}`);
    const record = await images.get(normalized);
    if (record === undefined) throw noSuchImage(`${name}:${tag}`);
    return [{ normalized, target: record.target }];
  }
  const wanted = parseReference(normalizeRequestedName(name));
  // `app` alone means every tag of app (parseReference reads it as app:latest).
  const tagged = name.lastIndexOf(':') > name.lastIndexOf('/');
  const found = (await images.list()).filter((record) => {
    const ref = parseReference(record.name);
    return (
      ref.registry === wanted.registry &&
      ref.repository === wanted.repository &&
      ref.tag !== undefined &&
      (!tagged || ref.tag === wanted.tag)
    );
  });
  if (found.length === 0) throw noSuchImage(name);
  return found.map((record) => ({ normalized: record.name, target: record.target }));
}

function noSuchImage(name: string): TbuildError {
  return new TbuildError(
    'TB_IMAGE_NOT_FOUND',
    `An image does not exist locally with the tag: ${name}`,
    {
      hint: 'GET /images/json lists the images of the service; tag one with POST /images/{name}/tag',
    },
  );
}

/** A blob as docker's progress names it: 12 hex digits. */
function shortId(digest: Digest): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
