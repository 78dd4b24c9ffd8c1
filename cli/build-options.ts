import {
  parseBuildOptions,
  parseCallSpec,
  type CallSpec,
  parseOptionalPositiveInteger,
  type BuildOptions,
} from '../builder/index.js';
import { HELP_FLAG, parseFlags, ROOT_FLAG, usage, type FlagSpec } from './flags.js';
import { PROGRESS_MODES, type ProgressMode } from '../builder/index.js';

/** Everything `tbuild build` was asked to do, parsed and checked, before anything runs. */
export interface BuildRequest extends BuildOptions {
  readonly contextPath: string;
  /** A path, or `-` for standard input; absent means `<context>/Dockerfile`. */
  readonly dockerfile?: string;
  readonly progress: ProgressMode;
  /** `--call` / `--check`: answer that instead of building; absent: build. */
  readonly call?: CallSpec;
  /** `--explain`: plain progress prints every component of a missed step's key. */
  readonly explain: boolean;
  readonly quiet: boolean;
  readonly iidfile?: string;
  readonly metadataFile?: string;
  readonly maxParallelism?: number;
  readonly root?: string;
  /** `--builder`: a remote builder's address or name (docs/remote-builders.md). */
  readonly builder?: string;
  /** The flags as given, by name: what a remote build sends the builder. */
  readonly flagValues: {
    readonly lists: ReadonlyMap<string, readonly string[]>;
    readonly strings: ReadonlyMap<string, string>;
    readonly booleans: ReadonlyMap<string, boolean>;
  };
}

export const BUILD_FLAGS: readonly FlagSpec[] = [
  {
    name: 'file',
    short: 'f',
    type: 'string',
    value: 'PATH',
    description: "Name of the Dockerfile (default: 'PATH/Dockerfile'; '-' reads standard input)",
  },
  {
    name: 'tag',
    short: 't',
    type: 'list',
    value: 'NAME',
    description: "Name and optionally a tag ('name:tag')",
  },
  { name: 'build-arg', type: 'list', value: 'KEY=VALUE', description: 'Set a build-time variable' },
  {
    name: 'build-context',
    type: 'list',
    value: 'NAME=VALUE',
    description:
      'Additional build context: a directory, docker-image://REF, oci-layout://DIR[:TAG], or a git or https URL; replaces the stage or image NAME',
  },
  {
    name: 'cache-to',
    type: 'list',
    value: 'SPEC',
    description:
      'Cache export destination (type=registry,ref=REF | type=local,dest=DIR | type=inline)[,mode=min|max][,compression=…][,image-manifest=…][,ignore-error=true]',
  },
  {
    name: 'cache-from',
    type: 'list',
    value: 'SPEC',
    description:
      'Cache import source (REF, type=registry,ref=REF or type=local,src=DIR[,digest=…])',
  },
  {
    name: 'target',
    type: 'string',
    value: 'STAGE',
    description: 'Set the target build stage to build',
  },
  {
    name: 'call',
    type: 'string',
    value: 'METHOD',
    description:
      'Set method for evaluating build: build, check, outline, targets (add ,format=json for JSON)',
  },
  { name: 'check', type: 'boolean', description: 'Shorthand for "--call=check"' },
  {
    name: 'no-cache',
    type: 'boolean',
    description: 'Do not use the cache when building the image',
  },
  { name: 'pull', type: 'boolean', description: 'Always attempt to pull all referenced images' },
  {
    name: 'progress',
    type: 'string',
    value: 'MODE',
    description: 'Progress output: auto, tty, plain, rawjson, quiet (default auto)',
  },
  {
    name: 'explain',
    type: 'boolean',
    description:
      'Under a step that missed the cache, list every part of its key, as before and now (plain progress)',
  },
  {
    name: 'quiet',
    short: 'q',
    type: 'boolean',
    description: 'Print only the image digest (sha256:…)',
  },
  {
    name: 'output',
    short: 'o',
    type: 'list',
    value: 'SPEC',
    description:
      'Output destination (type=docker|oci|local|tar|image[,dest=…][,name=…][,push=true][,compression=gzip|zstd|uncompressed][,compression-level=N][,tar=false][,annotation[-TYPE].KEY=VALUE])',
  },
  { name: 'push', type: 'boolean', description: 'Shorthand for --output=type=image,push=true' },
  {
    name: 'load',
    type: 'boolean',
    description: 'Shorthand for --output=type=docker: load the image into Docker (DOCKER_HOST)',
  },
  { name: 'iidfile', type: 'string', value: 'FILE', description: 'Write the image ID to a file' },
  {
    name: 'metadata-file',
    type: 'string',
    value: 'FILE',
    description: 'Write build result metadata to a file',
  },
  { name: 'label', type: 'list', value: 'KEY=VALUE', description: 'Set metadata for an image' },
  {
    name: 'annotation',
    type: 'list',
    value: '[TYPE:]KEY=VALUE',
    description:
      'Add an annotation to the image (TYPE manifest, the default, or manifest-descriptor; [linux/amd64] may follow TYPE)',
  },
  {
    name: 'secret',
    type: 'list',
    value: 'SPEC',
    description:
      'Secret to expose to the build (id=mysecret[,src=/local/secret] or id=mysecret,env=VAR)',
  },
  {
    name: 'ssh',
    type: 'list',
    value: 'SPEC',
    description:
      'SSH agent socket or keys to expose to the build (default|<id>[=<socket>|<key>[,<key>]])',
  },
  {
    name: 'network',
    type: 'string',
    value: 'MODE',
    description: 'Networking mode for RUN instructions: default, none, host (default "default")',
  },
  {
    name: 'allow',
    type: 'list',
    value: 'ENTITLEMENT',
    description:
      'Allow extra privileged entitlement for RUN steps: network.host, security.insecure',
  },
  {
    name: 'add-host',
    type: 'list',
    value: 'HOST:IP',
    description: 'Add a custom host-to-IP mapping (format: host:ip)',
  },
  {
    name: 'platform',
    type: 'string',
    value: 'PLATFORM',
    description: 'Target platform (only linux/amd64 is supported)',
  },
  {
    name: 'max-parallelism',
    type: 'string',
    value: 'N',
    description:
      'How many steps use the CPU at once; idle RUN steps lend their slot (default: number of CPUs)',
  },
  {
    name: 'shm-size',
    type: 'string',
    value: 'BYTES',
    description: 'Size of /dev/shm in RUN steps, e.g. 128m (default 64m)',
  },
  {
    name: 'ulimit',
    type: 'list',
    value: 'NAME=SOFT[:HARD]',
    description: 'Resource limit of RUN steps, e.g. nofile=1024:2048 (-1: unlimited)',
  },
  {
    name: 'builder',
    type: 'string',
    value: 'ADDR|NAME',
    description:
      'Build on a remote builder (tbuild serve --grpc): tcp://HOST:PORT, unix:///PATH or a name from tbuild builder ls (default $TBUILD_BUILDER, else the one in use)',
  },
  ROOT_FLAG,
  HELP_FLAG,
];

/**
 * Parses `tbuild build` arguments the way `docker buildx build` reads them.
 * `env` is the process environment (read at the edge by the caller) for
 * `--build-arg NAME` without a value and `--secret id=X` without a source.
 */
export function parseBuildRequest(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): BuildRequest | 'help' {
  const flags = parseFlags(argv, BUILD_FLAGS);
  if (flags.booleans.get('help') === true) return 'help';
  const [contextPath, ...extra] = flags.positionals;
  if (contextPath === undefined) {
    throw usage(
      '"tbuild build" requires exactly 1 argument: the build context',
      "for example 'tbuild build .'",
    );
  }
  if (extra.length > 0)
    throw usage(
      `"tbuild build" requires exactly 1 argument, got ${String(flags.positionals.length)}: ${flags.positionals.join(' ')}`,
    );
  const string = (name: string): string | undefined => flags.strings.get(name);
  const options = parseBuildOptions(
    {
      list: (name) => flags.lists.get(name) ?? [],
      string,
      boolean: (name) => flags.booleans.get(name),
    },
    env,
  );
  const progress = string('progress') ?? 'auto';
  if (!(PROGRESS_MODES as readonly string[]).includes(progress)) {
    throw usage(`invalid --progress "${progress}": use one of ${PROGRESS_MODES.join(', ')}`);
  }
  const maxParallelism = parseOptionalPositiveInteger(
    string('max-parallelism'),
    '--max-parallelism',
  );
  const dockerfile = string('file');
  const iidfile = string('iidfile');
  const metadataFile = string('metadata-file');
  const root = string('root');
  const call = parseCallSpec(string('call'), flags.booleans.get('check'));
  const builder = string('builder');
  // buildx passes SOURCE_DATE_EPOCH from the environment as a build arg.
  const epoch = env['SOURCE_DATE_EPOCH'];
  const buildArgs =
    epoch === undefined || epoch === '' || options.buildArgs.has('SOURCE_DATE_EPOCH')
      ? options.buildArgs
      : new Map([...options.buildArgs, ['SOURCE_DATE_EPOCH', epoch]]);
  return {
    ...options,
    buildArgs,
    contextPath,
    progress: progress as ProgressMode,
    explain: flags.booleans.get('explain') ?? false,
    quiet: flags.booleans.get('quiet') ?? false,
    ...(dockerfile === undefined ? {} : { dockerfile }),
    ...(iidfile === undefined ? {} : { iidfile }),
    ...(metadataFile === undefined ? {} : { metadataFile }),
    ...(maxParallelism === undefined ? {} : { maxParallelism }),
    ...(root === undefined ? {} : { root }),
    ...(call === undefined ? {} : { call }),
    ...(builder === undefined ? {} : { builder }),
    flagValues: { lists: flags.lists, strings: flags.strings, booleans: flags.booleans },
  };
}
