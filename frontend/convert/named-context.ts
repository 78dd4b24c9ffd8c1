import { normalizeImageRef } from './image-ref.js';
import type { NamedContext } from './types.js';

/**
 * The named context (`--build-context NAME=…`) a FROM, `COPY --from` or
 * `RUN --mount=from=` word stands for, as buildx: the name as written, or an
 * image name that means the same image (`alpine` and `docker.io/library/alpine:latest`).
 * A named context comes before a stage or image of that name: it replaces it.
 */
export function findNamedContext(
  named: ReadonlyMap<string, NamedContext>,
  word: string,
): NamedContext | undefined {
  if (named.size === 0) return undefined;
  const exact = named.get(word);
  if (exact !== undefined) return exact;
  const normalized = tryNormalize(word);
  if (normalized === undefined) return undefined;
  for (const [name, context] of named) if (tryNormalize(name) === normalized) return context;
  return undefined;
}

function tryNormalize(word: string): string | undefined {
  try {
    return normalizeImageRef(word);
  } catch {
    return undefined; // not an image name: only the exact name can match
  }
}
