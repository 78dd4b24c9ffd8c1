import {
  canonicalJson,
  noopLogger,
  sha256Digest,
  type Descriptor,
  type Digest,
  type ImageConfig,
  type ProgressSink,
} from '../core/index.js';
import {
  commitImage,
  commitRemoteImage,
  fetchRemoteBlobs,
  makeImageManifest,
  manifestSettings,
  type Engine,
  type ImageBundle,
  type LayersAhead,
  type LayerSettings,
  type ManifestSettings,
  type RemoteBlobSource,
  type RemoteRef,
  type SnapshotRef,
  type StoredImage,
} from '../worker/index.js';
import { mergeAnnotations } from './annotations.js';
import type { BuildOptions, OutputSpec } from './options.js';

/**
 * The image of one build's result: committed to the local store once (config
 * and layers as snapshots, nothing compressed), and given a manifest, with its
 * layer blobs, only for the outputs that need the bytes; once per manifest
 * settings. The blobs themselves are made once per snapshot and settings
 * across builds (makeLayerBlob). A result that is a remote cache hit is
 * committed by its blobs and diffIDs without a download (commitRemoteImage);
 * only an archive manifest (`localBlobs`) fetches its blobs, and a push mounts
 * them (`remoteBlobs`).
 */
export class ResultImage {
  readonly #engine: Engine;
  readonly #result: SnapshotRef | RemoteRef;
  readonly #progress: ProgressSink;
  readonly #config: Omit<ImageConfig, 'rootfs'>;
  readonly #epoch: number | undefined;
  readonly #manifest: ManifestSettings;
  readonly #ahead: LayersAhead | undefined;
  readonly #signal: AbortSignal;
  #stored: Promise<StoredImage> | undefined;
  #fetched: Promise<void> | undefined;
  readonly #bundles = new Map<string, Promise<ImageBundle>>();
  /** The first manifest an output wrote (push, oci, docker), for `containerimage.digest`. */
  firstManifest: Descriptor | undefined;

  constructor(options: {
    readonly engine: Engine;
    readonly result: SnapshotRef | RemoteRef;
    /** Where a failed remote blob is named (as a warning). */
    readonly progress: ProgressSink;
    readonly config: Omit<ImageConfig, 'rootfs'>;
    readonly sourceDateEpoch: number | undefined;
    /** The manifest-to-be: what `tbuild push` makes of the image later. */
    readonly manifest: ManifestSettings;
    readonly layersAhead: LayersAhead | undefined;
    readonly signal: AbortSignal;
  }) {
    this.#engine = options.engine;
    this.#result = options.result;
    this.#progress = options.progress;
    this.#config = options.config;
    this.#epoch = options.sourceDateEpoch;
    this.#manifest = options.manifest;
    this.#ahead = options.layersAhead;
    this.#signal = options.signal;
  }

  /** The image in the local store (its config digest is the image ID). */
  stored(): Promise<StoredImage> {
    const options = {
      ...this.#access(),
      ...(this.#epoch === undefined ? {} : { sourceDateEpoch: this.#epoch }),
      manifest: this.#manifest,
    };
    this.#stored ??=
      this.#result.kind === 'remote'
        ? commitRemoteImage(this.#result, this.#config, options)
        : commitImage(this.#result, this.#config, options);
    return this.#stored;
  }

  /** The blobs of a remote result, not fetched: a push mounts them from the cache's repository. */
  get remoteBlobs(): ReadonlyMap<Digest, RemoteBlobSource> | undefined {
    const result = this.#result;
    if (result.kind !== 'remote') return undefined;
    return new Map(result.layers.map((layer) => [layer.descriptor.digest, result.source]));
  }

  /**
   * The image's manifest with `settings`, its layer blobs made (or reused) first;
   * with `localBlobs` (an archive reads them), a remote result's blobs are fetched too.
   */
  async manifest(
    settings: ManifestSettings,
    options: { readonly localBlobs: boolean },
  ): Promise<ImageBundle> {
    const key = canonicalJson(settings);
    let bundle = this.#bundles.get(key);
    if (bundle === undefined) {
      bundle = this.stored().then((stored) =>
        makeImageManifest(stored, { ...this.#access(), settings }),
      );
      this.#bundles.set(key, bundle);
    }
    if (options.localBlobs) await this.localBlobs();
    const made = await bundle;
    this.firstManifest ??= made.manifest.descriptor;
    return made;
  }

  /**
   * A remote result's layer blobs fetched into the content store (not extracted):
   * for an archive, and for an image the local store names, which a later build
   * or push on this machine reads from there.
   */
  async localBlobs(): Promise<void> {
    const result = this.#result;
    if (result.kind !== 'remote') return;
    this.#fetched ??= fetchRemoteBlobs(
      result,
      { store: this.#engine.store },
      { signal: this.#signal, progress: this.#progress, logger: noopLogger },
      sha256Digest('tbuild.remote-result'),
    );
    await this.#fetched;
  }

  #access() {
    const ahead = this.#ahead;
    return {
      store: this.#engine.store,
      pool: this.#engine.pool,
      signal: this.#signal,
      ...(ahead === undefined
        ? {}
        : { madeAhead: (snapshot: string): Promise<void> => ahead.ready(snapshot) }),
    };
  }
}

/** Whether an output needs the layers' compressed bytes (else only the local store holds the image). */
export function needsBlobs(output: OutputSpec): boolean {
  return (
    output.type === 'oci' || output.type === 'docker' || (output.type === 'image' && output.push)
  );
}

/**
 * The image's manifest-to-be: the local store's output (`-t`, type=image)
 * decides it, else the first image output; gzip and OCI media types without one.
 */
export function plannedManifest(
  outputs: readonly OutputSpec[],
  options: BuildOptions,
  epoch: number | undefined,
): ManifestSettings {
  const imageOutput =
    outputs.find((output) => output.type === 'image') ??
    outputs.find((output) => output.type === 'oci' || output.type === 'docker');
  return outputManifest(imageOutput, options, epoch);
}

/** The manifest an output writes: its compression, media types and annotations. */
export function outputManifest(
  output: OutputSpec | undefined,
  options: BuildOptions,
  epoch: number | undefined,
): ManifestSettings {
  const annotations = mergeAnnotations(output?.annotations, options.annotations);
  // As BuildKit: descriptor annotations exist only in OCI's media types, so they switch to them.
  const ociMediaTypes =
    output?.ociMediaTypes ??
    (output?.type !== 'docker' || Object.keys(annotations.manifestDescriptor).length > 0);
  return manifestSettings({
    ...layerSettings(output, epoch),
    ociMediaTypes,
    annotations: annotations.manifest,
  });
}

/** How an output's layers are tarred and compressed. */
export function layerSettings(
  output: OutputSpec | undefined,
  epoch: number | undefined,
): LayerSettings {
  return {
    compression: output?.compression ?? 'gzip',
    ...(output?.compressionLevel === undefined
      ? {}
      : { compressionLevel: output.compressionLevel }),
    ...(epoch === undefined ? {} : { sourceDateEpoch: epoch }),
  };
}
