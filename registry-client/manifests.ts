import { type Digest, TbuildError, isDigest, sha256Digest } from '../core/index.js';
import { mismatch } from './blob-fetch.js';
import type { RegistryClient } from './client.js';
import { discardBody, headerValue, readBody } from './http-transport.js';
import { MANIFEST_ACCEPT } from './media-types.js';
import { type ImageManifest, type ParsedManifest, parseManifest } from './manifest-types.js';
import { LINUX_AMD64, type PlatformSpec, selectPlatform } from './platform.js';
import {
  type ImageReference,
  type RepositoryRef,
  formatReference,
  manifestReference,
  withDigest,
} from './reference.js';
import { responseError } from './registry-errors.js';
import { withRetry } from './retry.js';
import { repositoryScope } from './scope.js';

/** Manifests: resolve, fetch (verified), choose a platform, push. */

/** distribution refuses manifests over 4 MiB; allow some slack for other registries. */
const MANIFEST_LIMIT = 8 * 1024 * 1024;

export interface FetchedManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly parsed: ParsedManifest;
}

function manifestPath(repo: RepositoryRef, reference: string): string {
  return `/v2/${repo.repository}/manifests/${reference}`;
}

/** GETs a manifest with all four types in Accept and verifies its digest. */
export function getManifest(
  client: RegistryClient,
  ref: ImageReference,
  signal: AbortSignal,
): Promise<FetchedManifest> {
  const what = `manifest ${formatReference(ref)}`;
  const scopes = [repositoryScope(ref.repository, ['pull'])];
  return withRetry(
    what,
    async () => {
      const response = await client.request(ref, {
        method: 'GET',
        path: manifestPath(ref, manifestReference(ref)),
        scopes,
        headers: { accept: MANIFEST_ACCEPT },
        signal,
        followRedirects: true,
      });
      if (response.status === 401 || response.status === 403)
        throw await client.authError(ref, response, scopes, `pulling ${what}`, signal);
      if (response.status !== 200) throw await responseError(response, `pulling ${what}`, signal);
      const bytes = await readBody(response, MANIFEST_LIMIT, signal);
      const actual = sha256Digest(bytes);
      // By digest: the digest asked for. By tag: the one the registry claims, when it does.
      const header = headerValue(response, 'docker-content-digest');
      const expected = ref.digest ?? (isDigest(header) ? header : undefined);
      if (expected !== undefined && actual !== expected) {
        throw mismatch(what, `the body hashes to ${actual}, not ${expected}`, true);
      }
      const length = headerValue(response, 'content-length');
      if (length !== undefined && Number(length) !== bytes.length) {
        throw mismatch(
          what,
          `received ${String(bytes.length)} bytes, Content-Length said ${length}`,
          true,
        );
      }
      const parsed = parseManifest(bytes, headerValue(response, 'content-type'), what);
      const mediaType =
        parsed.kind === 'index' ? parsed.index.mediaType : parsed.manifest.mediaType;
      return { digest: actual, mediaType, bytes, parsed };
    },
    { ...client.retry, signal, logger: client.logger },
  );
}

/** HEADs a manifest: its digest, type and size, or undefined when absent. */
export function headManifest(
  client: RegistryClient,
  ref: ImageReference,
  signal: AbortSignal,
): Promise<
  { readonly digest: Digest; readonly mediaType: string; readonly size: number } | undefined
> {
  const what = `manifest ${formatReference(ref)}`;
  const scopes = [repositoryScope(ref.repository, ['pull'])];
  return withRetry(
    what,
    async () => {
      const response = await client.request(ref, {
        method: 'HEAD',
        path: manifestPath(ref, manifestReference(ref)),
        scopes,
        headers: { accept: MANIFEST_ACCEPT },
        signal,
        followRedirects: true,
      });
      discardBody(response);
      if (response.status === 404) return undefined;
      if (response.status === 401 || response.status === 403)
        throw await client.authError(ref, response, scopes, `resolving ${what}`, signal);
      if (response.status !== 200) throw await responseError(response, `resolving ${what}`, signal);
      const digest = headerValue(response, 'docker-content-digest');
      if (!isDigest(digest)) {
        // Some registries omit it on HEAD (containerd falls back to GET the same way).
        const fetched = await getManifest(client, ref, signal);
        return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.bytes.length };
      }
      const mediaType = headerValue(response, 'content-type')?.split(';')[0]?.trim() ?? '';
      return { digest, mediaType, size: Number(headerValue(response, 'content-length') ?? '0') };
    },
    { ...client.retry, signal, logger: client.logger },
  );
}

export interface ResolvedImage {
  /** The reference pinned to the image manifest's digest. */
  readonly reference: ImageReference;
  /** The index the manifest was chosen from, if the reference named one. */
  readonly index: FetchedManifest | undefined;
  readonly manifest: FetchedManifest & { readonly image: ImageManifest };
}

/** Resolves a reference to one image manifest, choosing `platform` (default linux/amd64) from an index. */
export async function resolveImage(
  client: RegistryClient,
  ref: ImageReference,
  options: { readonly signal: AbortSignal; readonly platform?: PlatformSpec },
): Promise<ResolvedImage> {
  let index: FetchedManifest | undefined;
  let current = await getManifest(client, ref, options.signal);
  // Nested indexes are allowed; follow a few levels.
  for (let depth = 0; current.parsed.kind === 'index'; depth++) {
    if (depth >= 4)
      throw new TbuildError(
        'TB_REGISTRY_MANIFEST',
        `${formatReference(ref)}: indexes nested too deep`,
      );
    index ??= current;
    const chosen = selectPlatform(
      current.parsed.index,
      options.platform ?? LINUX_AMD64,
      formatReference(ref),
    );
    current = await getManifest(client, withDigest(ref, chosen.digest), options.signal);
  }
  const image = current.parsed.manifest;
  return { reference: withDigest(ref, current.digest), index, manifest: { ...current, image } };
}

/** PUTs a manifest (by tag or digest) with its media type; returns its digest. */
export function putManifest(
  client: RegistryClient,
  repo: RepositoryRef,
  reference: string,
  manifest: { readonly mediaType: string; readonly bytes: Buffer },
  signal: AbortSignal,
): Promise<Digest> {
  const digest = sha256Digest(manifest.bytes);
  const what = `pushing manifest ${repo.registry}/${repo.repository}:${reference}`;
  const scopes = [repositoryScope(repo.repository, ['pull', 'push'])];
  return withRetry(
    what,
    async () => {
      const response = await client.request(repo, {
        method: 'PUT',
        path: manifestPath(repo, reference),
        scopes,
        headers: { 'content-type': manifest.mediaType },
        body: manifest.bytes,
        signal,
      });
      if (response.status === 401 || response.status === 403)
        throw await client.authError(repo, response, scopes, what, signal);
      if (response.status < 200 || response.status > 204)
        throw await responseError(response, what, signal);
      discardBody(response);
      const stored = headerValue(response, 'docker-content-digest');
      if (stored !== undefined && stored !== digest) {
        throw mismatch(what, `the registry stored it as ${stored}, not ${digest}`, false);
      }
      return digest;
    },
    { ...client.retry, signal, logger: client.logger },
  );
}
