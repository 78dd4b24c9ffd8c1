import { dirname, relative, sep } from 'node:path';
import { TbuildError } from '../core/index.js';

/**
 * Options every tbuild overlay uses: the upper directory alone must be a
 * complete diff (no redirects, no metacopy), and inode index files are not
 * wanted in snapshots.
 */
export const OVERLAY_FEATURES = 'redirect_dir=off,metacopy=off,index=off';
/** mount(2) copies at most one page of options, the terminating NUL included. */
export const MAX_OVERLAY_OPTIONS = 4095;

export interface OverlayLayers {
  /** Absolute lower directories, top first. */
  readonly lowerDirs: readonly string[];
  readonly upperDir?: string;
  readonly workDir?: string;
}

/** An overlay mount whose paths are relative to `cwd`: mount from there (chdir first). */
export interface RelativeOverlay {
  readonly cwd: string;
  readonly lowerDirs: readonly string[];
  readonly upperDir?: string;
  readonly workDir?: string;
  /** The whole option string, at most MAX_OVERLAY_OPTIONS bytes. */
  readonly options: string;
}

/**
 * Rewrites an overlay's directories relative to their deepest common parent,
 * as Docker's overlay2 uses short `l/` links and containerd chdirs: with
 * absolute paths every layer costs the root's path length, so a 100-character
 * root fit 38 layers in a page; relative to the snapshot directory a layer
 * costs its 6-character id, and overlayfs' own 500 layers fit whatever the
 * root is. Throws TB_RUNTIME_SPEC when even then the options exceed a page.
 */
export function relativeOverlay(layers: OverlayLayers): RelativeOverlay {
  const all = [...layers.lowerDirs, layers.upperDir, layers.workDir].filter(
    (path): path is string => path !== undefined,
  );
  const cwd = commonParent(all);
  const shorten = (path: string): string => relative(cwd, path) || '.';
  const lowerDirs = layers.lowerDirs.map(shorten);
  const writable =
    layers.upperDir !== undefined && layers.workDir !== undefined
      ? { upperDir: shorten(layers.upperDir), workDir: shorten(layers.workDir) }
      : undefined;
  const parts = [`lowerdir=${lowerDirs.join(':')}`];
  if (writable !== undefined)
    parts.push(`upperdir=${writable.upperDir}`, `workdir=${writable.workDir}`);
  parts.push(OVERLAY_FEATURES);
  const options = parts.join(',');
  const bytes = Buffer.byteLength(options);
  if (bytes > MAX_OVERLAY_OPTIONS) {
    throw new TbuildError(
      'TB_RUNTIME_SPEC',
      `an overlay of ${String(lowerDirs.length)} layers needs ${String(bytes)} bytes of mount options, more than the kernel's one page (${String(MAX_OVERLAY_OPTIONS)})`,
      {
        hint: 'squash the image or merge layers: fewer layers make shorter options',
        details: { layers: lowerDirs.length, bytes, cwd },
      },
    );
  }
  return { cwd, lowerDirs, ...writable, options };
}

/** The deepest directory holding every path's parent (`/` at worst). */
function commonParent(paths: readonly string[]): string {
  const [first, ...rest] = paths.map((path) => dirname(path).split(sep));
  if (first === undefined) return sep;
  let length = first.length;
  for (const parts of rest) {
    let same = 0;
    while (same < length && same < parts.length && parts[same] === first[same]) same++;
    length = same;
  }
  return first.slice(0, length).join(sep) || sep;
}
