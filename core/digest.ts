import { createHash } from 'node:crypto';
import { TbuildError } from './errors.js';

declare const digestBrand: unique symbol;

/** A content digest, `sha256:` followed by 64 lowercase hex digits. Parse once at the boundary. */
export type Digest = string & { readonly [digestBrand]: true };

const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_PATTERN.test(value);
}

export function parseDigest(value: string): Digest {
  if (!isDigest(value)) {
    throw new TbuildError('TB_INVALID_DIGEST', `invalid digest "${value}"`, {
      hint: 'a digest is "sha256:" followed by 64 lowercase hex digits',
      details: { value },
    });
  }
  return value;
}

export function sha256Digest(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** The hex part of a digest, as used in `blobs/sha256/<hex>` paths. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}
