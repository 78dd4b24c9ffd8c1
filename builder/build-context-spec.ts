import { isDigest, TbuildError, type Digest } from '../core/index.js';
import { normalizeImageRef, parseGitRef } from '../frontend/index.js';

/**
 * One `--build-context NAME=VALUE`, as buildx reads VALUE: a local directory,
 * `docker-image://REF`, `oci-layout://DIR[:TAG|@DIGEST]`, or a git or http(s)
 * URL (fetched as a build context is). DIR and oci-layout name paths of the
 * machine that runs the build.
 */
export type BuildContextSpec =
  | { readonly name: string; readonly kind: 'dir'; readonly path: string }
  | { readonly name: string; readonly kind: 'image'; readonly ref: string }
  | {
      readonly name: string;
      readonly kind: 'oci-layout';
      readonly path: string;
      readonly tag?: string;
      readonly digest?: Digest;
    }
  | { readonly name: string; readonly kind: 'url'; readonly url: string };

export function parseBuildContext(text: string): BuildContextSpec {
  const equals = text.indexOf('=');
  const name = equals < 0 ? '' : text.slice(0, equals);
  const value = equals < 0 ? '' : text.slice(equals + 1);
  if (name === '' || value === '' || /\s/.test(name)) {
    throw invalid(
      text,
      'expected NAME=VALUE, e.g. --build-context base=docker-image://alpine:3.20',
    );
  }
  if (value.startsWith('docker-image://')) {
    const ref = value.slice('docker-image://'.length);
    try {
      return { name, kind: 'image', ref: normalizeImageRef(ref) };
    } catch (error) {
      throw invalid(text, `"${ref}" is not an image reference`, error);
    }
  }
  if (value.startsWith('oci-layout://')) return { name, ...parseOciLayout(value, text) };
  if (/^https?:\/\//i.test(value) || parseGitRef(value) !== undefined) {
    return { name, kind: 'url', url: value };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw invalid(text, 'supported: DIR, docker-image://, oci-layout://, git and http(s) URLs');
  }
  return { name, kind: 'dir', path: value };
}

/** `oci-layout://DIR`, `…DIR:TAG`, `…DIR@sha256:…` (a tag after the last `/` only). */
function parseOciLayout(
  value: string,
  text: string,
): { kind: 'oci-layout'; path: string; tag?: string; digest?: Digest } {
  let rest = value.slice('oci-layout://'.length);
  let digest: Digest | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const candidate = rest.slice(at + 1);
    if (!isDigest(candidate)) throw invalid(text, `"${candidate}" is not a sha256 digest`);
    digest = candidate;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (rest === '') throw invalid(text, 'oci-layout:// needs a directory');
  return {
    kind: 'oci-layout',
    path: rest,
    ...(tag === undefined || tag === '' ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

function invalid(text: string, hint: string, cause?: unknown): TbuildError {
  return new TbuildError('TB_USAGE', `invalid --build-context "${text}"`, {
    hint,
    ...(cause === undefined ? {} : { cause }),
  });
}
