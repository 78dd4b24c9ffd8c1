/** What `--cache-to` and `--cache-from` ask for, parsed (builder/cache-options.ts). */

/** `min`: the exported image's steps; `max`: every step of every stage built. */
export type CacheMode = 'min' | 'max';

export interface CacheLayerSettings {
  readonly compression: 'gzip' | 'zstd' | 'uncompressed';
  readonly compressionLevel?: number;
  readonly ociMediaTypes: boolean;
}

interface CacheExportCommon extends CacheLayerSettings {
  readonly mode: CacheMode;
  /** true: an image manifest whose config is the cache record blob; false: an index. */
  readonly imageManifest: boolean;
  /** A failed export is a warning, not a failed build. */
  readonly ignoreError: boolean;
  /** `cache-mounts=true`: the build's `RUN --mount=type=cache` directories go with the cache. */
  readonly cacheMounts: boolean;
}

export type CacheExportSpec =
  | ({ readonly type: 'registry'; readonly ref: string } & CacheExportCommon)
  | ({ readonly type: 'local'; readonly dest: string } & CacheExportCommon)
  | { readonly type: 'inline' };

export type CacheImportSpec =
  | { readonly type: 'registry'; readonly ref: string }
  | { readonly type: 'local'; readonly src: string; readonly digest?: string };
