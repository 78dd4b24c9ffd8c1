import { lowerError } from './errors.js';

const NAME_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;

/**
 * Docker's reference normalisation (`busybox` → `docker.io/library/busybox:latest`),
 * written here because the frontend may not import registry-client; the
 * resolver may return a more specific (pinned) reference.
 */
export function normalizeImageRef(ref: string): string {
  const invalid = (): Error =>
    lowerError(
      'TB_DOCKERFILE_ARGUMENTS',
      `invalid reference format: "${ref}" is not a valid image name`,
      ref !== ref.toLowerCase() ? 'repository names must be lowercase' : undefined,
    );
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid();
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid();
  }
  const parts = rest.split('/');
  let domain = 'docker.io';
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    domain = first;
    parts.shift();
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && parts.length === 1) parts.unshift('library');
  if (parts.length === 0 || !parts.every((part) => NAME_COMPONENT.test(part))) throw invalid();
  const name = `${domain}/${parts.join('/')}`;
  if (digest !== undefined)
    return tag === undefined ? `${name}@${digest}` : `${name}:${tag}@${digest}`;
  return `${name}:${tag ?? 'latest'}`;
}
