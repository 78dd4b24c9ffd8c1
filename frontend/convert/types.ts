import type { Logger } from '../../core/index.js';
import type { NetworkMode, Platform, Ulimit, Vertex } from '../../solver/ir/index.js';
import type { ImageConfig } from '../../core/index.js';
import type { Linter } from '../checks/index.js';
import type { LoweredImageConfig } from './image.js';

/** What the frontend learns about a base image before lowering a stage on it. */
export interface ResolvedImage {
  /** Normalised reference, pinned (`name@sha256:…`) when the resolver knows the digest. */
  readonly ref: string;
  /**
   * The image's config; an image without layers is lowered like `scratch`.
   * Absent when only the reference is known (e.g. `tbuild graph` without an
   * image store): the stage then starts from an empty config.
   */
  readonly config?: ImageConfig;
}

/** How the frontend reaches images (registry, local store); implemented outside the frontend. */
export interface ImageMetaResolver {
  resolve(
    ref: string,
    options: { readonly platform: Platform; readonly signal: AbortSignal },
  ): Promise<ResolvedImage>;
}

/**
 * A `--build-context NAME=…` as the frontend sees it: a local directory of the
 * build's session (LocalSource `name`), or an image (`docker-image://`, and
 * what the builder turns other kinds into).
 */
export type NamedContext =
  | {
      readonly kind: 'local';
      readonly name: string;
      /** The directory's own `.dockerignore` patterns, as written. */
      readonly excludePatterns?: readonly string[];
    }
  | { readonly kind: 'image'; readonly ref: string };

export interface LowerOptions {
  /** The Dockerfile's name, for errors and step sources. */
  readonly file?: string;
  readonly buildArgs?: ReadonlyMap<string, string>;
  /** Stage name to build; the last stage when absent. */
  readonly target?: string;
  /** Default linux/amd64. */
  readonly platform?: Platform;
  /** Default: the target platform. */
  readonly buildPlatform?: Platform;
  readonly resolver: ImageMetaResolver;
  /** `.dockerignore` patterns as written; they become the context source's excludePatterns. */
  readonly dockerignore?: readonly string[];
  /** Named contexts by name: each replaces the stage or image of that name. */
  readonly namedContexts?: ReadonlyMap<string, NamedContext>;
  /** Name of the local source for the build context; default `context`. */
  readonly contextName?: string;
  /**
   * The build session serving the context, secrets and ssh agents (see
   * LocalSource.session). Absent in lowerings that are never solved (`graph`).
   */
  readonly session?: string;
  /** Seconds since the epoch; file timestamps and history times. */
  readonly sourceDateEpoch?: number;
  readonly noCache?: boolean;
  /** Network of RUN steps that do not say (`--network` of the build); default `default`. */
  readonly network?: NetworkMode;
  /** `host:ip` entries added to every RUN's /etc/hosts (`--add-host`). */
  readonly extraHosts?: readonly string[];
  /** Bytes of every RUN's /dev/shm (`--shm-size`); default Docker's 64 MiB. */
  readonly shmSize?: number;
  /** Resource limits of every RUN (`--ulimit`), sorted by name. */
  readonly ulimits?: readonly Ulimit[];
  /**
   * What the build's user allowed beyond the sandbox (buildx `--allow`): without
   * `network.host`, `RUN --network=host` is refused; without `security.insecure`,
   * `RUN --security=insecure`. Default none.
   */
  readonly entitlements?: readonly Entitlement[];
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  /**
   * Build checks (frontend/checks): the parse and FROM checks run over every
   * stage, the dispatch checks over the stages lowered. Absent: no checks.
   */
  readonly linter?: Linter;
  /** Lower every stage, not only those the target needs (`--call=check` without --target). */
  readonly allStages?: boolean;
}

/** BuildKit's entitlements a Dockerfile may ask for (`--allow`). */
export const ENTITLEMENTS = ['network.host', 'security.insecure'] as const;
export type Entitlement = (typeof ENTITLEMENTS)[number];

export type StageBase =
  | { readonly kind: 'scratch' }
  | { readonly kind: 'image'; readonly ref: string }
  | { readonly kind: 'stage'; readonly index: number };

export interface LoweredStage {
  readonly index: number;
  /** The `AS` name, if any. */
  readonly name?: string;
  readonly base: StageBase;
  readonly platform: Platform;
  /** Whether the target needs this stage (only those are lowered). */
  readonly reachable: boolean;
}

export interface LoweredBuild {
  /** The target's filesystem; undefined for an empty `scratch` result. */
  readonly root: Vertex | undefined;
  /** The result's image config and history (rootfs is left to the exporter). */
  readonly image: LoweredImageConfig;
  /**
   * Context paths the build reads, relative to the context root and sorted:
   * `['.']` when it may read anything (a COPY of `.`), `[]` when it reads nothing.
   */
  readonly contextPaths: readonly string[];
  readonly stages: readonly LoweredStage[];
  /** Index of the target stage. */
  readonly target: number;
  readonly warnings: readonly string[];
}
