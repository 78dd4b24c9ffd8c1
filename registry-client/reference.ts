import { TbuildError, isDigest, type Digest } from '../core/index.js';

/**
 * Image references after distribution/reference, the grammar Docker and BuildKit use:
 * `[host[:port]/]path[:tag][@digest]`, normalised so `busybox` means
 * `docker.io/library/busybox:latest`.
 */

/** A repository on a registry: where blobs and manifests live. */
export interface RepositoryRef {
  /** The canonical registry host with its port, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly registry: string;
  /** The path inside the registry, e.g. `library/busybox`. */
  readonly repository: string;
}

/** A normalised reference: at least one of tag and digest is set. */
export interface ImageReference extends RepositoryRef {
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const DEFAULT_TAG = 'latest';
const MAX_NAME_LENGTH = 255;

const LABEL = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)';
const HOST_PATTERN = new RegExp(
  `^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-fA-F:.]+\\])(?::([0-9]+))?$`,
);
const COMPONENT_PATTERN = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const ANY_DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function invalid(text: string, why: string, hint?: string): TbuildError {
  return new TbuildError('TB_REGISTRY_REFERENCE', `invalid reference "${text}": ${why}`, {
    ...(hint === undefined ? {} : { hint }),
    details: { reference: text },
  });
}

/** The first path segment names a host when it looks like one (a dot, a port, localhost). */
function looksLikeHost(segment: string): boolean {
  return (
    segment.includes('.') ||
    segment.includes(':') ||
    segment === 'localhost' ||
    segment.startsWith('[') ||
    segment !== segment.toLowerCase()
  );
}

function parseHost(text: string, host: string): string {
  const match = HOST_PATTERN.exec(host);
  if (match === null) throw invalid(text, `"${host}" is not a valid registry host`);
  const port = match[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    throw invalid(text, `port ${port} is out of range`);
  }
  return DOCKER_HUB_ALIASES.has(host.toLowerCase()) ? DOCKER_HUB : host;
}

function parsePath(text: string, path: string): void {
  if (path === '') throw invalid(text, 'the repository name is empty');
  for (const component of path.split('/')) {
    if (component === '') throw invalid(text, 'the repository name has an empty path component');
    if (component !== component.toLowerCase()) {
      throw invalid(text, 'repository name must be lowercase', `try "${text.toLowerCase()}"`);
    }
    if (!COMPONENT_PATTERN.test(component)) {
      throw invalid(
        text,
        `"${component}" is not a valid path component`,
        'path components are lowercase letters and digits, separated by ".", "_", "__" or "-"',
      );
    }
  }
}

function parseDigestPart(text: string, digest: string): Digest {
  if (isDigest(digest)) return digest;
  if (ANY_DIGEST_PATTERN.test(digest) && !digest.startsWith('sha256:')) {
    throw invalid(
      text,
      `digest algorithm "${digest.split(':')[0] ?? ''}" is not supported`,
      'use a sha256 digest',
    );
  }
  throw invalid(
    text,
    `"${digest}" is not a valid digest`,
    'a digest is "sha256:" followed by 64 lowercase hex digits',
  );
}

/**
 * Parses and normalises an image reference. A reference with neither tag nor digest
 * gets the tag `latest`; a reference with both keeps both (the digest wins when pulling).
 */
export function parseReference(text: string): ImageReference {
  if (text.trim() !== text || text === '')
    throw invalid(text, 'it is empty or has surrounding spaces');
  if (/\s/.test(text)) throw invalid(text, 'it contains whitespace');

  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = parseDigestPart(text, rest.slice(at + 1));
    rest = rest.slice(0, at);
  }

  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/') && !rest.slice(lastColon).includes(']')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_PATTERN.test(tag)) {
      throw invalid(
        text,
        `"${tag}" is not a valid tag`,
        'a tag is up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"',
      );
    }
  }

  const slash = rest.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = rest;
  const first = slash === -1 ? rest : rest.slice(0, slash);
  if (slash !== -1 && looksLikeHost(first)) {
    registry = parseHost(text, first);
    repository = rest.slice(slash + 1);
  } else if (
    slash === -1 &&
    (first.startsWith('[') || first === 'localhost' || /[.:]/.test(first))
  ) {
    // `localhost:5000` alone has no repository; `localhost` alone is a Hub image name.
    if (first !== 'localhost') throw invalid(text, 'it names a registry but no repository');
  }
  parsePath(text, repository);
  if (registry === DOCKER_HUB && !repository.includes('/')) {
    if (/^[a-f0-9]{64}$/.test(repository)) {
      throw invalid(
        text,
        'a 64-hex-digit name is ambiguous with an image id',
        'use "sha256:<id>" or a name',
      );
    }
    repository = `library/${repository}`;
  }
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) {
    throw invalid(text, `the name is longer than ${String(MAX_NAME_LENGTH)} characters`);
  }
  return {
    registry,
    repository,
    tag: tag ?? (digest === undefined ? DEFAULT_TAG : undefined),
    digest,
  };
}

/** `registry/repository[:tag][@digest]`, fully qualified. */
export function formatReference(ref: ImageReference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `${ref.registry}/${ref.repository}${tag}${digest}`;
}

/** `registry/repository`, for messages about a repository. */
export function formatRepository(ref: RepositoryRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The short form Docker prints: no `docker.io/`, no `library/`. */
export function familiarName(ref: ImageReference): string {
  const full = formatReference(ref);
  if (ref.registry !== DOCKER_HUB) return full;
  const path = full.slice(DOCKER_HUB.length + 1);
  return path.startsWith('library/') ? path.slice('library/'.length) : path;
}

/** What to put after `/manifests/`: the digest when known, else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}

export function withDigest(ref: RepositoryRef, digest: Digest): ImageReference {
  return { registry: ref.registry, repository: ref.repository, tag: undefined, digest };
}

export function withTag(ref: RepositoryRef, tag: string): ImageReference {
  if (!TAG_PATTERN.test(tag))
    throw invalid(`${formatRepository(ref)}:${tag}`, `"${tag}" is not a valid tag`);
  return { registry: ref.registry, repository: ref.repository, tag, digest: undefined };
}
