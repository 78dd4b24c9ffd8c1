/**
 * The one error type tbuild throws. Every failure has a stable `code` from
 * {@link ERROR_CATALOG}, a containerd-style class that maps to gRPC and HTTP
 * statuses, a message carrying its operands, and optionally a hint, structured
 * details, a Dockerfile source location and a cause.
 *
 * Codes are documented in docs/errors.md; a unit test keeps the two in sync.
 */

/** Error classes after containerd's errdefs; each maps to one gRPC status. */
export type ErrorClass =
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'FailedPrecondition'
  | 'PermissionDenied'
  | 'Unavailable'
  | 'Unimplemented'
  | 'Canceled'
  | 'DataLoss'
  | 'Internal';

interface CatalogEntry {
  readonly errorClass: ErrorClass;
  /** One line, shown in docs/errors.md under the code's heading. */
  readonly summary: string;
}

export const ERROR_CATALOG = {
  TB_INTERNAL: { errorClass: 'Internal', summary: 'An invariant of tbuild itself was broken.' },
  TB_CANCELED: { errorClass: 'Canceled', summary: 'The operation was cancelled.' },
  TB_INVALID_DIGEST: {
    errorClass: 'InvalidArgument',
    summary: 'A string is not a valid `sha256:<64 hex>` digest.',
  },
  TB_CANONICAL_JSON: {
    errorClass: 'InvalidArgument',
    summary: 'A value cannot be encoded as canonical JSON.',
  },
  TB_USAGE: {
    errorClass: 'InvalidArgument',
    summary: 'A command-line flag or argument is invalid.',
  },
  TB_FILE_READ: {
    errorClass: 'NotFound',
    summary: 'A file named on the command line cannot be read.',
  },
  TB_DOCKERFILE_SYNTAX: {
    errorClass: 'InvalidArgument',
    summary: 'The Dockerfile is malformed (bad line, heredoc, JSON or directive).',
  },
  TB_DOCKERFILE_UNKNOWN_INSTRUCTION: {
    errorClass: 'InvalidArgument',
    summary: 'An instruction name is not part of the Dockerfile reference.',
  },
  TB_DOCKERFILE_UNKNOWN_FLAG: {
    errorClass: 'InvalidArgument',
    summary: 'An instruction was given a flag it does not accept.',
  },
  TB_DOCKERFILE_FLAG_VALUE: {
    errorClass: 'InvalidArgument',
    summary: 'A flag of an instruction has an invalid or missing value.',
  },
  TB_DOCKERFILE_ARGUMENTS: {
    errorClass: 'InvalidArgument',
    summary: 'An instruction has the wrong number or shape of arguments.',
  },
  TB_DOCKERFILE_EXPANSION: {
    errorClass: 'InvalidArgument',
    summary: 'A variable substitution is malformed or a required variable (`${V:?msg}`) is unset.',
  },
  TB_DOCKERFILE_STAGE: {
    errorClass: 'InvalidArgument',
    summary: 'A stage reference is unknown, duplicated, or forms a cycle.',
  },
  TB_DOCKERFILE_NO_STAGES: {
    errorClass: 'InvalidArgument',
    summary:
      'The Dockerfile has no FROM instruction, or an instruction comes before the first FROM.',
  },
  TB_DOCKERFILE_PLATFORM: {
    errorClass: 'InvalidArgument',
    summary: 'A platform string is malformed or not supported.',
  },
  TB_DOCKERFILE_CHECK: {
    errorClass: 'FailedPrecondition',
    summary: 'Build checks found warnings and `# check=error=true` makes them fail the build.',
  },
  TB_DOCKERFILE_CHECK_OPTIONS: {
    errorClass: 'InvalidArgument',
    summary: 'A `# check=` directive or BUILDKIT_DOCKERFILE_CHECK build arg is malformed.',
  },
  TB_DOCKERIGNORE: {
    errorClass: 'InvalidArgument',
    summary: 'A .dockerignore pattern is invalid.',
  },
  TB_REGISTRY_REFERENCE: {
    errorClass: 'InvalidArgument',
    summary: 'An image reference (name, tag or digest) is malformed.',
  },
  TB_REGISTRY_AUTH: {
    errorClass: 'PermissionDenied',
    summary: 'A registry refused the credentials, or none were found for a private repository.',
  },
  TB_REGISTRY_CREDENTIALS: {
    errorClass: 'FailedPrecondition',
    summary: 'The docker config.json or a docker-credential helper could not be read or run.',
  },
  TB_REGISTRY_HTTP: {
    errorClass: 'Unavailable',
    summary: 'A registry could not be reached or answered with an unexpected status.',
  },
  TB_REGISTRY_NOT_FOUND: {
    errorClass: 'NotFound',
    summary: 'A repository, tag, manifest or blob does not exist in the registry.',
  },
  TB_REGISTRY_DIGEST_MISMATCH: {
    errorClass: 'DataLoss',
    summary: 'Content from a registry does not match its digest or size.',
  },
  TB_REGISTRY_MANIFEST: {
    errorClass: 'InvalidArgument',
    summary:
      'A manifest or index is malformed, of an unsupported type, or has no matching platform.',
  },
  TB_CACHE_IMPORT: {
    errorClass: 'InvalidArgument',
    summary: 'A --cache-from source is not a tbuild cache or could not be read.',
  },
  TB_CACHE_EXPORT: {
    errorClass: 'Unavailable',
    summary: 'A --cache-to destination could not be written.',
  },
  TB_RUNTIME_NATIVE_MISSING: {
    errorClass: 'FailedPrecondition',
    summary: 'The native build of the runtime (addon or sandbox helper) is missing.',
  },
  TB_RUNTIME_SPEC: {
    errorClass: 'InvalidArgument',
    summary: 'A sandbox spec is invalid (empty argv, relative path, bad limit or mount).',
  },
  TB_RUNTIME_USER: {
    errorClass: 'NotFound',
    summary: 'A RUN user or group name is not in the passwd or group file of the root filesystem.',
  },
  TB_RUNTIME_SANDBOX: {
    errorClass: 'FailedPrecondition',
    summary: 'The sandbox for a RUN step could not be set up.',
  },
  TB_RUNTIME_EXEC: {
    errorClass: 'NotFound',
    summary: 'The command of a RUN step could not be started in the sandbox.',
  },
  TB_RUNTIME_ARGS_TOO_LONG: {
    errorClass: 'InvalidArgument',
    summary:
      'The kernel refused to start a RUN command: its arguments and environment exceed execve limits (E2BIG).',
  },
  TB_RUNTIME_SECCOMP: {
    errorClass: 'InvalidArgument',
    summary: 'A seccomp profile cannot be compiled to BPF.',
  },
  TB_RUNTIME_CGROUP: {
    errorClass: 'FailedPrecondition',
    summary: 'Resource limits were asked for but no usable cgroup hierarchy was found.',
  },
  TB_RUNTIME_NETWORK: {
    errorClass: 'FailedPrecondition',
    summary: "A RUN step's default network (veth, NAT, nftables) could not be set up.",
  },
  TB_LAYER_UNSAFE_PATH: {
    errorClass: 'PermissionDenied',
    summary: 'A layer tar entry would write outside the directory it is applied to.',
  },
  TB_LAYER_INVALID: {
    errorClass: 'InvalidArgument',
    summary: 'A layer tar is malformed or holds an entry tbuild cannot apply.',
  },
  TB_LAYER_SOURCE: {
    errorClass: 'FailedPrecondition',
    summary: 'An overlay upper directory cannot be turned into a layer tar.',
  },
  TB_FILEOP: {
    errorClass: 'FailedPrecondition',
    summary: 'A file operation (COPY, ADD, WORKDIR) cannot be applied to the filesystem.',
  },
  TB_COPY_SOURCE_NOT_FOUND: {
    errorClass: 'NotFound',
    summary: 'A COPY or ADD source does not exist (or is excluded by .dockerignore).',
  },
  TB_CHOWN_UNKNOWN: {
    errorClass: 'NotFound',
    summary: 'A --chown user or group name is not in the destination /etc/passwd or /etc/group.',
  },
  TB_CONTENT_NOT_FOUND: {
    errorClass: 'NotFound',
    summary: 'A blob is not in the local content store.',
  },
  TB_CONTENT_CORRUPT: {
    errorClass: 'DataLoss',
    summary:
      'A stored blob does not match its digest; it is removed and must be fetched or rebuilt.',
  },
  TB_CONTENT_UNEXPECTED: {
    errorClass: 'FailedPrecondition',
    summary: 'Bytes written to the content store do not have the expected digest or size.',
  },
  TB_SNAPSHOT_NOT_FOUND: {
    errorClass: 'NotFound',
    summary: 'A snapshot id is not in the snapshot store (or is not in the state asked for).',
  },
  TB_SNAPSHOT_STATE: {
    errorClass: 'FailedPrecondition',
    summary: "A snapshot operation does not fit the snapshot's state or chain.",
  },
  TB_SNAPSHOT_CORRUPT: {
    errorClass: 'DataLoss',
    summary: 'A committed snapshot no longer matches what was recorded when it was committed.',
  },
  TB_IMAGE_NOT_FOUND: {
    errorClass: 'NotFound',
    summary: 'An image is not in the local image store, or its registry has no such name or tag.',
  },
  TB_IMAGE_CONFLICT: {
    errorClass: 'FailedPrecondition',
    summary: 'An image ID given to `tbuild image rm` has several names and -f was not given.',
  },
  TB_STORE_LOCK: {
    errorClass: 'Unavailable',
    summary: 'The store lock could not be taken in time.',
  },
  TB_STORE_IO: {
    errorClass: 'Unavailable',
    summary: 'A file of the tbuild root cannot be read or written.',
  },
  TB_DISK_FULL: {
    errorClass: 'Unavailable',
    summary: 'A write failed because the filesystem holding its path is full (ENOSPC, EDQUOT).',
  },
  TB_OUTPUT_WRITE: {
    errorClass: 'Unavailable',
    summary: 'An output (a -o dest file or directory) cannot be written.',
  },
  TB_STORE_ARGUMENT: {
    errorClass: 'InvalidArgument',
    summary: 'A value given to the store (image name, lease id, prune filter) is invalid.',
  },
  TB_HTTP_SOURCE: {
    errorClass: 'Unavailable',
    summary: 'An ADD URL could not be downloaded (network error or an HTTP error status).',
  },
  TB_CHECKSUM_INVALID: {
    errorClass: 'InvalidArgument',
    summary: 'An ADD --checksum is malformed (`sha256:<64 hex>` for URLs, a commit id for git).',
  },
  TB_CHECKSUM_MISMATCH: {
    errorClass: 'DataLoss',
    summary: 'A download or git commit does not match the ADD --checksum given for it.',
  },
  TB_GIT_SOURCE: {
    errorClass: 'Unavailable',
    summary: 'A git repository could not be fetched or checked out.',
  },
  TB_GIT_REF_NOT_FOUND: {
    errorClass: 'NotFound',
    summary: 'A git branch, tag, commit or subdirectory does not exist in the repository.',
  },
  TB_ARCHIVE_UNSAFE_PATH: {
    errorClass: 'PermissionDenied',
    summary: 'An ADD archive entry would write outside the destination directory.',
  },
  TB_ARCHIVE_INVALID: {
    errorClass: 'InvalidArgument',
    summary: 'An ADD archive is corrupt, truncated, or holds an entry that cannot be extracted.',
  },
  TB_RUN_FAILED: {
    errorClass: 'FailedPrecondition',
    summary: 'A RUN step exited with a non-zero status or was killed.',
  },
  TB_SECRET_NOT_FOUND: {
    errorClass: 'NotFound',
    summary: 'A required secret or SSH agent of a RUN mount was not given to the build.',
  },
  TB_IMAGE_INVALID: {
    errorClass: 'DataLoss',
    summary: 'An image in the store is inconsistent or uses a format tbuild cannot read.',
  },
  TB_ENTITLEMENT_DENIED: {
    errorClass: 'PermissionDenied',
    summary:
      'A RUN asks for more than the sandbox (host network, insecure mode) without the matching --allow.',
  },
  TB_UNSUPPORTED: {
    errorClass: 'Unimplemented',
    summary: 'The build uses a feature tbuild does not support yet.',
  },
  TB_SERVICE_CONFIG: {
    errorClass: 'InvalidArgument',
    summary: 'The build service configuration (flags or config file) is invalid.',
  },
  TB_SERVICE_UNAUTHENTICATED: {
    errorClass: 'PermissionDenied',
    summary: 'A request to the build service has no valid token.',
  },
  TB_SERVICE_FORBIDDEN: {
    errorClass: 'PermissionDenied',
    summary: 'A request to the build service needs a scope its token does not have.',
  },
  TB_SERVICE_REQUEST: {
    errorClass: 'InvalidArgument',
    summary: 'A request to the build service is malformed.',
  },
  TB_SERVICE_LIMIT: {
    errorClass: 'InvalidArgument',
    summary: 'A request to the build service exceeds a configured limit.',
  },
  TB_SERVICE_CONTEXT: {
    errorClass: 'InvalidArgument',
    summary: 'A build context sent to the service is not a safe, valid tar.',
  },
  TB_SERVICE_NOT_FOUND: {
    errorClass: 'NotFound',
    summary: 'The build or route asked of the build service does not exist.',
  },
  TB_SERVICE_QUEUE_FULL: {
    errorClass: 'Unavailable',
    summary: "The build service's queue is full.",
  },
  TB_SERVICE_STOPPING: {
    errorClass: 'Unavailable',
    summary: 'The build service is shutting down or restarted during the build.',
  },
  TB_SERVICE_NODE_LOST: {
    errorClass: 'Unavailable',
    summary: 'A build that only its receiving node could run lost that node.',
  },
  TB_BUILDER_UNAVAILABLE: {
    errorClass: 'Unavailable',
    summary: 'The remote builder (`--builder`) cannot be reached, or the call to it broke.',
  },
  TB_BUILDER_NOT_FOUND: {
    errorClass: 'NotFound',
    summary: 'No builder of that name was created with `tbuild builder create`.',
  },
  TB_DOCKER_UNAVAILABLE: {
    errorClass: 'Unavailable',
    summary: 'The Docker daemon `--load` loads into cannot be reached.',
  },
  TB_DOCKER_LOAD: {
    errorClass: 'FailedPrecondition',
    summary: 'The Docker daemon refused the image `--load` sent it.',
  },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Where in a source file (a Dockerfile) an error points. Lines are 1-based. */
export interface SourceLocation {
  readonly file: string;
  readonly startLine: number;
  readonly endLine: number;
  /** The text of lines startLine..endLine, for a code frame without re-reading the file. */
  readonly lines: readonly string[];
}

export interface TbuildErrorOptions {
  readonly hint?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly source?: SourceLocation;
  readonly cause?: unknown;
}

/** The plain-data form of an error, for threads, JSON progress and the wire. */
export interface SerializedError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly hint?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly source?: SourceLocation;
}

export class TbuildError extends Error {
  override readonly name = 'TbuildError';
  readonly code: ErrorCode;
  readonly errorClass: ErrorClass;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly source: SourceLocation | undefined;

  constructor(code: ErrorCode, message: string, options: TbuildErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errorClass = ERROR_CATALOG[code].errorClass;
    this.hint = options.hint;
    this.details = options.details;
    this.source = options.source;
  }

  toJSON(): SerializedError {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
      ...(this.source === undefined ? {} : { source: this.source }),
    };
  }

  /** Rebuilds an error that crossed a thread or process boundary as plain data. */
  static fromJSON(data: SerializedError): TbuildError {
    return new TbuildError(isErrorCode(data.code) ? data.code : 'TB_INTERNAL', data.message, data);
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOG, value);
}

/** Checks by code rather than instanceof, which does not survive thread boundaries. */
export function isTbuildError(value: unknown, code?: ErrorCode): value is TbuildError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { code?: unknown; errorClass?: unknown };
  if (!isErrorCode(candidate.code) || typeof candidate.errorClass !== 'string') return false;
  return code === undefined || candidate.code === code;
}

/** Wraps anything thrown by a dependency into a TbuildError, keeping TbuildErrors as they are. */
export function toTbuildError(value: unknown, code: ErrorCode = 'TB_INTERNAL'): TbuildError {
  if (isTbuildError(value)) return value;
  const message = value instanceof Error ? value.message : String(value);
  // A full disk the writer did not name itself: still a full disk, not a bug of tbuild.
  const errno = (value as { code?: unknown; path?: unknown } | null)?.code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    const path = (value as { path?: unknown }).path;
    return new TbuildError(
      'TB_DISK_FULL',
      `the disk is full${typeof path === 'string' ? ` writing ${path}` : ''} (${message})`,
      {
        hint: 'free space, or remove build cache with `tbuild prune` (`tbuild du` shows it)',
        ...(typeof path === 'string' ? { details: { path } } : {}),
        cause: value,
      },
    );
  }
  return new TbuildError(code, message, { cause: value });
}
