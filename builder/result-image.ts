import { canonicalJson, type Descriptor, type ImageConfig } from '../core/index.js';
import {
  commitImage,
  makeImageManifest,
  manifestSettings,
  type Engine,
  type ImageBundle,
  type LayersAhead,
  type LayerSettings,
  type ManifestSettings,
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
 * across builds (makeLayerBlob).
 */
export class ResultImage {
  readonly #engine: Engine;
  readonly #result: SnapshotRef;
  readonly #config: Omit<ImageConfig, 'rootfs'>;
  readonly #epoch: number | undefined;
  readonly #manifest: ManifestSettings;
  readonly #ahead: LayersAhead | undefined;
  readonly #signal: AbortSignal;
  #stored: Promise<StoredImage> | undefined;
  readonly #bundles = new Map<string, Promise<ImageBundle>>();
  /** The first manifest an output wrote (push, oci, docker), for `containerimage.digest`. */
  firstManifest: Descriptor | undefined;

  constructor(options: {
    readonly engine: Engine;
    readonly result: SnapshotRef;
    readonly config: Omit<ImageConfig, 'rootfs'>;
    readonly sourceDateEpoch: number | undefined;
    /** The manifest-to-be: what `tbuild push` makes of the image later. */
    readonly manifest: ManifestSettings;
    readonly layersAhead: LayersAhead | undefined;
    readonly signal: AbortSignal;
  }) {
    this.#engine = options.engine;
    this.#result = options.result;
    this.#config = options.config;
    this.#epoch = options.sourceDateEpoch;
    this.#manifest = options.manifest;
    this.#ahead = options.layersAhead;
    this.#signal = options.signal;
  }

  /** The image in the local store (its config digest is the image ID). */
  stored(): Promise<StoredImage> {
    this.#stored ??= commitImage(this.#result, this.#config, {
      ...this.#access(),
      ...(this.#epoch === undefined ? {} : { sourceDateEpoch: this.#epoch }),
      manifest: this.#manifest,
    });
    return this.#stored;
  }

  /** The image's manifest with `settings`, its layer blobs made (or reused) first. */
  async manifest(settings: ManifestSettings): Promise<ImageBundle> {
    const key = canonicalJson(settings);
    let bundle = this.#bundles.get(key);
    if (bundle === undefined) {
      bundle = this.stored().then((stored) =>
        makeImageManifest(stored, { ...this.#access(), settings }),
      );
      this.#bundles.set(key, bundle);
    }
    const made = await bundle;
    this.firstManifest ??= made.manifest.descriptor;
    return made;
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
