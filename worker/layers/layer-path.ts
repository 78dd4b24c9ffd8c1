/**
 * Names inside layer tars: normalisation, whiteout markers, and in-root resolution of
 * parent directories (symlinks resolve as if the layer directory were `/`).
 */
import { lstat, mkdir, readlink } from 'node:fs/promises';
import { TbuildError } from '../../core/index.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** Linux's own limit on symlinks followed during one lookup. */
const MAX_SYMLINKS = 40;

export function unsafePath(message: string, name: string): TbuildError {
  return new TbuildError(
    'TB_LAYER_UNSAFE_PATH',
    `refusing layer entry ${JSON.stringify(name)}: ${message}`,
    {
      details: { name },
      hint: 'the layer tar is malformed or malicious; nothing was written outside the target directory',
    },
  );
}

/**
 * The components of an entry name. A leading `/` or `./` is dropped (contained: every
 * tar tool treats names as relative); a `..` that climbs above the root is refused.
 */
export function entryComponents(name: string): string[] {
  const components: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (components.length === 0) throw unsafePath('".." climbs above the layer root', name);
      components.pop();
      continue;
    }
    if (part.includes('\u0000')) throw unsafePath('NUL byte in name', name);
    components.push(part);
  }
  return components;
}

export type WhiteoutKind =
  | { readonly kind: 'opaque' }
  | { readonly kind: 'whiteout'; readonly target: string }
  /** Other `.wh..wh.` names are AUFS bookkeeping (e.g. `.wh..wh.plnk`); containerd skips them too. */
  | { readonly kind: 'aufs-meta' };

export function whiteoutOf(base: string, name: string): WhiteoutKind | undefined {
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (base === OPAQUE_MARKER) return { kind: 'opaque' };
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: 'aufs-meta' };
  const target = base.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..') {
    throw new TbuildError('TB_LAYER_INVALID', `invalid whiteout ${JSON.stringify(name)}`, {
      details: { name },
    });
  }
  return { kind: 'whiteout', target };
}

export interface ResolveOptions {
  /** Create missing directories on the way (mode 0755, root-owned), as containerd's mkparent does. */
  readonly createMissing: boolean;
  /** Called for each directory created, with its path relative to the root. */
  readonly onCreate?: (relative: string) => void;
}

/**
 * The real path, under `root`, of the directory named by `components`, resolving symlinks
 * met on the way *inside* the root (an absolute target restarts at the root, `..` stops
 * at it), the way openat2(RESOLVE_IN_ROOT) does. The result never contains a symlink.
 *
 * A user-space walk is safe here because the layer directory being applied is fresh and
 * private to this process: nothing can swap a component between our lstat and its use.
 */
export async function resolveDirInRoot(
  root: string,
  components: readonly string[],
  name: string,
  options: ResolveOptions,
): Promise<string[]> {
  const resolved: string[] = [];
  const queue = [...components];
  let followed = 0;
  while (queue.length > 0) {
    const part = queue.shift() ?? '';
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = [...resolved, part];
    const path = joinRoot(root, candidate);
    const stats = await lstat(path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    });
    if (stats === undefined) {
      if (!options.createMissing) {
        throw unsafePath(`${candidate.join('/')} does not exist in the layer`, name);
      }
      await mkdir(path, { mode: 0o755 });
      options.onCreate?.(candidate.join('/'));
      resolved.push(part);
      continue;
    }
    if (stats.isSymbolicLink()) {
      if (++followed > MAX_SYMLINKS) throw unsafePath('too many levels of symbolic links', name);
      const target = await readlink(path);
      if (target.startsWith('/')) resolved.length = 0;
      queue.unshift(...target.split('/'));
      continue;
    }
    if (!stats.isDirectory()) {
      throw new TbuildError(
        'TB_LAYER_INVALID',
        `layer entry ${JSON.stringify(name)}: ${candidate.join('/')} is not a directory`,
        { details: { name } },
      );
    }
    resolved.push(part);
  }
  return resolved;
}

export function joinRoot(root: string, components: readonly string[]): string {
  return components.length === 0 ? root : `${root}/${components.join('/')}`;
}
