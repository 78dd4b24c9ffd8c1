/**
 * Cache keys of an http source, after BuildKit's formatCacheKey: the JSON of
 * {Filename, Perm, UID, GID, Checksum, LastModTime}. The URL is deliberately not in it:
 * the same bytes under the same name and time from a mirror are the same result, and an
 * unchanged download hits the cache even though it had to be fetched to know that.
 */
import { canonicalDigest, type Digest } from '../../core/index.js';
import type { HttpSource } from '../../solver/index.js';
import { parseHttpChecksum } from './checksum.js';
import { downloadFileName } from './http-filename.js';
import { redactUrl } from './redact.js';

export interface HttpCacheKeyMaterial {
  readonly filename: string;
  readonly digest: Digest;
  /** Part of the key because it becomes the file's mtime. */
  readonly lastModified?: Date;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

export const HTTP_CACHE_KEY_ENCODING = 'tbuild.http-source.v1';

export function httpCacheKey(material: HttpCacheKeyMaterial): Digest {
  return canonicalDigest({
    type: HTTP_CACHE_KEY_ENCODING,
    filename: material.filename,
    checksum: material.digest,
    mode: material.mode ?? 0o600,
    uid: material.uid ?? 0,
    gid: material.gid ?? 0,
    // Seconds, as HTTP dates carry them (BuildKit formats with http.TimeFormat).
    ...(material.lastModified === undefined
      ? {}
      : { lastModified: Math.floor(material.lastModified.getTime() / 1000) }),
  });
}

/**
 * The key of a source pinned by `--checksum`, known without any request (BuildKit's
 * resolveMetadataStatic): a cache hit then needs no network at all. Undefined without a
 * checksum. The name cannot depend on Content-Disposition here, as in BuildKit.
 */
export function httpPinnedCacheKey(
  source: HttpSource,
  options: { readonly mode?: number; readonly uid?: number; readonly gid?: number } = {},
): Digest | undefined {
  if (source.checksum === undefined) return undefined;
  return httpCacheKey({
    ...options,
    filename: downloadFileName(source.url, source.filename, undefined),
    digest: parseHttpChecksum(source.checksum, redactUrl(source.url)),
  });
}
