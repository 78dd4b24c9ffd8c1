import type { FileDigests } from './record.js';

/**
 * The paths whose checksums differ between two bounded listings of the same
 * step's context files: changed, added or removed files, sorted. Where a
 * directory was listed in both, its children tell what changed; where only one
 * listing went that deep, the directory itself is the answer.
 */
export function changedPaths(before: FileDigests, after: FileDigests): string[] {
  const listedBefore = new Set(before.listed);
  const listedAfter = new Set(after.listed);
  const listedInBoth = (path: string): boolean => listedBefore.has(path) && listedAfter.has(path);
  const comparable = (path: string): boolean => {
    const parent = parentOf(path);
    // A path below a directory only one side listed is not comparable: the directory is.
    if (parent === undefined || !(listedBefore.has(parent) || listedAfter.has(parent))) return true;
    return listedInBoth(parent);
  };
  const paths = new Set([...Object.keys(before.digests), ...Object.keys(after.digests)]);
  const differing = [...paths]
    .filter((path) => comparable(path) && before.digests[path] !== after.digests[path])
    .sort();
  const reported = differing.filter((path) => !listedInBoth(path));
  // A directory listed in both whose children are all the same changed itself (its mode).
  const dirsAlone = differing.filter(
    (path) =>
      listedInBoth(path) &&
      !reported.some((other) => parentOf(other) !== undefined && isBelow(other, path)),
  );
  return [...reported, ...dirsAlone].sort();
}

/** `src/a.c` → `src`; `a.c` → `` (the context's root); `` → undefined. */
export function parentOf(path: string): string | undefined {
  if (path === '') return undefined;
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

function isBelow(path: string, dir: string): boolean {
  return dir === '' || path.startsWith(`${dir}/`);
}
