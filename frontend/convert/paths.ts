import path from 'node:path/posix';

/**
 * A path relative to the working directory, made absolute; a trailing `/`
 * (or `/.`) is kept because it means "a directory" to COPY (BuildKit's
 * pathRelativeToWorkingDir with keepSlash).
 */
export function resolveDest(workdir: string, dest: string): string {
  const target = dest === '' || dest === '.' ? './' : dest;
  let joined = path.isAbsolute(target) ? path.normalize(target) : path.join('/', workdir, target);
  if ((target.endsWith('/') || target.endsWith('/.') || target === './') && !joined.endsWith('/'))
    joined += '/';
  return joined;
}

/** A WORKDIR after the previous one: relative paths join it; the result is clean. */
export function joinWorkdir(current: string, next: string): string {
  const joined = path.isAbsolute(next) ? path.normalize(next) : path.join('/', current, next);
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
}

/** `path.Join("/", p)` as in Go: absolute, clean, no trailing slash. */
export function cleanPath(p: string): string {
  const joined = path.join('/', p);
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
}

/** Go's `path.Clean`: like cleanPath, but a relative path stays relative (`cache/` → `cache`). */
export function goPathClean(p: string): string {
  const normalized = path.normalize(p);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

export function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const char = name[i];
    if (char === '*' || char === '?' || char === '[') return true;
    if (char === '\\') i++;
  }
  return false;
}
