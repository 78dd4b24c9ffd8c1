/**
 * The IR: a content-addressed DAG of build operations, the contract between
 * frontends (which produce it) and the solver and worker (which run it).
 *
 * A vertex's identity is the canonical JSON of its op plus the digests of its
 * inputs (see vertex.ts). Everything in an op is part of that identity, so ops
 * hold only what changes the result; names and source locations live in
 * {@link VertexMeta}. Inputs are referred to by index into the vertex's inputs.
 */

export type Op = SourceOp | ExecOp | FileOp | MergeOp;

/** `os/arch[/variant]`; tbuild builds linux/amd64 natively. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

// ---------------------------------------------------------------- source

export interface SourceOp {
  readonly kind: 'source';
  readonly source: Source;
}

export type Source = ImageSource | LocalSource | HttpSource | GitSource;

/** A base image. `ref` is normalised (`docker.io/library/busybox:latest`), or a local store name. */
export interface ImageSource {
  readonly type: 'image';
  readonly ref: string;
  readonly platform: Platform;
}

/**
 * A directory of the client, usually the build context. Never cached by
 * definition: consumers key on the content of the paths they read.
 * `followPaths` is what the build reads (empty = everything not excluded).
 */
export interface LocalSource {
  readonly type: 'local';
  readonly name: string;
  /**
   * The build session whose directory this is (BuildKit's local.session). Part
   * of the vertex digest, so concurrent builds with different contexts never
   * share a step that read one of them; never part of a cache key.
   */
  readonly session?: string;
  readonly excludePatterns: readonly string[];
  readonly followPaths: readonly string[];
}

export interface HttpSource {
  readonly type: 'http';
  readonly url: string;
  /** Expected `sha256:…` of the download (ADD --checksum). */
  readonly checksum?: string;
  /** Name of the downloaded file; defaults to the URL's last path segment. */
  readonly filename?: string;
}

export interface GitSource {
  readonly type: 'git';
  readonly remote: string;
  /** Branch, tag or commit; empty for the default branch. */
  readonly ref: string;
  readonly subdir?: string;
  readonly keepGitDir: boolean;
  readonly checksum?: string;
}

// ---------------------------------------------------------------- exec

export type NetworkMode = 'default' | 'none' | 'host';
export type SecurityMode = 'sandbox' | 'insecure';

export interface ExecOp {
  readonly kind: 'exec';
  readonly args: readonly string[];
  /** `KEY=value`, in order. */
  readonly env: readonly string[];
  readonly cwd: string;
  /** As written in USER: `name`, `uid`, `name:group`, `uid:gid`; empty means root. */
  readonly user: string;
  readonly network: NetworkMode;
  readonly security: SecurityMode;
  readonly platform: Platform;
  /** `host:ip` pairs from --add-host. */
  readonly extraHosts: readonly string[];
  /** Bytes of /dev/shm (`--shm-size`, BuildKit's Meta.ShmSize); absent: 64 MiB, as Docker. */
  readonly shmSize?: number;
  /** Resource limits of the command (`--ulimit`, BuildKit's Meta.Ulimit), sorted by name. */
  readonly ulimits?: readonly Ulimit[];
  /**
   * Proxy build args (`HTTP_PROXY=…`, …) added to the environment when the
   * command runs. Absent when none are set. Like BuildKit's proxy_env, they are
   * volatile: cache keys leave them out, so a proxy change never invalidates a step.
   */
  readonly proxyEnv?: readonly string[];
  /**
   * The build session that serves this step's secret and ssh mounts; set only
   * when it has some. Volatile like proxyEnv: in the vertex digest (a step is
   * never shared with a build that holds other secrets), never in a cache key.
   */
  readonly session?: string;
  /** The root mount is `{ type: 'bind', target: '/', input: 0, output: true }`. */
  readonly mounts: readonly Mount[];
}

/** A Linux resource limit by its docker name (`nofile`, `core`…); -1 is unlimited. */
export interface Ulimit {
  readonly name: string;
  readonly soft: number;
  readonly hard: number;
}

export type Mount = BindMount | CacheMount | TmpfsMount | SecretMount | SshMount;

export interface BindMount {
  readonly type: 'bind';
  readonly target: string;
  /** Index into the vertex inputs; absent mounts an empty scratch directory. */
  readonly input?: number;
  /** Path inside the input to mount; `/` by default. */
  readonly selector: string;
  readonly readonly: boolean;
  /** Whether the mount's changes are a result of the op (true for the root mount only). */
  readonly output: boolean;
}

export type CacheSharing = 'shared' | 'private' | 'locked';

export interface CacheMount {
  readonly type: 'cache';
  readonly target: string;
  readonly id: string;
  readonly sharing: CacheSharing;
  /** Seed content for a new cache directory: an input index and a path inside it. */
  readonly input?: number;
  readonly selector: string;
  readonly readonly: boolean;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

export interface TmpfsMount {
  readonly type: 'tmpfs';
  readonly target: string;
  /** Bytes; 0 means the kernel default. */
  readonly size: number;
}

/** A secret file on a tmpfs, or an environment variable when `env` is set. Never part of results. */
export interface SecretMount {
  readonly type: 'secret';
  readonly id: string;
  /** Absent when the secret is only exposed as an environment variable. */
  readonly target?: string;
  readonly env?: string;
  readonly required: boolean;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

export interface SshMount {
  readonly type: 'ssh';
  readonly id: string;
  readonly target: string;
  readonly required: boolean;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

// ---------------------------------------------------------------- file

/**
 * Chained filesystem actions applied in order to `base` (an input index, or an
 * empty scratch directory when absent). Copy actions read from other inputs.
 */
export interface FileOp {
  readonly kind: 'file';
  readonly base?: number;
  readonly actions: readonly FileAction[];
}

export type FileAction = MkdirAction | MkfileAction | RmAction | SymlinkAction | CopyAction;

/** A user or group given by number, or by name resolved against the base's /etc/passwd and /etc/group. */
export type Owner = { readonly id: number } | { readonly name: string };

export interface Chown {
  readonly user: Owner;
  readonly group?: Owner;
}

export interface MkdirAction {
  readonly action: 'mkdir';
  readonly path: string;
  readonly mode: number;
  readonly makeParents: boolean;
  readonly owner?: Chown;
  /** Seconds since the epoch (SOURCE_DATE_EPOCH); absent means the time of the build. */
  readonly timestamp?: number;
}

export interface MkfileAction {
  readonly action: 'mkfile';
  readonly path: string;
  readonly mode: number;
  readonly data: string;
  readonly owner?: Chown;
  readonly timestamp?: number;
}

export interface RmAction {
  readonly action: 'rm';
  readonly path: string;
  readonly allowNotFound: boolean;
  readonly allowWildcard: boolean;
}

export interface SymlinkAction {
  readonly action: 'symlink';
  readonly linkTarget: string;
  readonly path: string;
  readonly owner?: Chown;
}

export interface CopyAction {
  readonly action: 'copy';
  /** Index into the vertex inputs to copy from; absent copies from an empty scratch. */
  readonly from?: number;
  readonly src: string;
  readonly dest: string;
  readonly owner?: Chown;
  /** Octal (`755`) or symbolic (`u+x,go-w`) as written in --chmod. */
  readonly mode?: string;
  readonly followSymlinks: boolean;
  /** Copy a directory's contents rather than the directory itself (Docker's COPY). */
  readonly dirContents: boolean;
  readonly createDestPath: boolean;
  readonly allowWildcard: boolean;
  readonly allowEmptyWildcard: boolean;
  readonly includePatterns: readonly string[];
  readonly excludePatterns: readonly string[];
  /** COPY --parents: keep the source's parent directories below the `/./` pivot. */
  readonly parents: boolean;
  /** ADD's auto-extraction of local tar archives (gzip, bzip2, xz). */
  readonly unpack: boolean;
  readonly timestamp?: number;
}

// ---------------------------------------------------------------- merge

/** Layers its inputs in order, later ones winning (COPY --link). Needs at least one input. */
export interface MergeOp {
  readonly kind: 'merge';
}
