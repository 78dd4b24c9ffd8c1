import { isIP } from 'node:net';
import { TbuildError } from '../core/index.js';
import { ENTITLEMENTS, type Entitlement } from '../frontend/index.js';
import { parseBuildContext, type BuildContextSpec } from './build-context-spec.js';
import { parseCsvOptions } from './csv-options.js';
import { parseCacheFrom, parseCacheTo } from './cache-options.js';
import type { CacheExportSpec, CacheImportSpec } from '../worker/index.js';
import {
  addOutputAnnotation,
  hasAnnotations,
  NO_ANNOTATIONS,
  parseAnnotationFlags,
  type ImageAnnotations,
} from './annotations.js';
import { parseShmSize, parseUlimits, type UlimitSpec } from './run-limit-options.js';

/**
 * What a build is asked to do, in the words of `docker buildx build`'s flags:
 * parsed and checked before anything runs. The CLI reads these values from its
 * flags and the service from query parameters of the same names, so both give
 * the same errors for the same mistakes.
 */
export interface BuildOptions {
  readonly tags: readonly string[];
  readonly buildArgs: ReadonlyMap<string, string>;
  readonly target?: string;
  readonly noCache: boolean;
  readonly pull: boolean;
  readonly outputs: readonly OutputSpec[];
  readonly labels: ReadonlyMap<string, string>;
  readonly secrets: readonly SecretSpec[];
  readonly ssh: readonly SshSpec[];
  readonly network: 'default' | 'none' | 'host';
  /** `--allow`: entitlements beyond the sandbox a RUN may ask for. */
  readonly allow: readonly Entitlement[];
  readonly addHosts: readonly { readonly host: string; readonly ip: string }[];
  readonly platform: { readonly os: 'linux'; readonly architecture: 'amd64' };
  /** `--build-context NAME=VALUE`: each replaces the stage or image NAME. */
  readonly buildContexts?: readonly BuildContextSpec[];
  /** `--cache-to` (and `--build-arg BUILDKIT_INLINE_CACHE=1`, an inline cache). */
  readonly cacheTo?: readonly CacheExportSpec[];
  /** `--cache-from`, in the order given: the first holding a key serves it. */
  readonly cacheFrom?: readonly CacheImportSpec[];
  /** `--shm-size`: bytes of every RUN's /dev/shm; absent means docker's 64m. */
  readonly shmSize?: number;
  /** `--ulimit`: resource limits of every RUN's processes, by name. */
  readonly ulimits?: readonly UlimitSpec[];
  /** `--annotation`: added to every image output's (and win over its `-o annotation.*`). */
  readonly annotations?: ImageAnnotations;
}

/** Option values by flag name (without dashes): the CLI's flags, or the service's query. */
export interface OptionValues {
  list(name: string): readonly string[];
  string(name: string): string | undefined;
  boolean(name: string): boolean | undefined;
}

/**
 * Reads the build options from `values`. `env` gives `--build-arg NAME` its
 * value (docker takes it from the environment); pass an empty one where the
 * caller's environment is not the user's (the service).
 */
export function parseBuildOptions(
  values: OptionValues,
  env: Readonly<Record<string, string | undefined>>,
): BuildOptions {
  const outputs = values.list('output').map(parseOutput);
  if (values.boolean('push') === true) outputs.push(defaultOutput({ type: 'image', push: true }));
  // --load is buildx's shorthand for -o type=docker: into the Docker daemon, no file.
  if (values.boolean('load') === true) outputs.push(defaultOutput({ type: 'docker' }));
  const tags = values.list('tag');
  for (const tag of tags) checkTag(tag);
  const network = values.string('network') ?? 'default';
  if (network !== 'default' && network !== 'none' && network !== 'host') {
    throw usage(`invalid --network "${network}": use default, none or host`);
  }
  const target = values.string('target');
  const annotations = optionalAnnotations(parseAnnotationFlags(values.list('annotation')));
  return {
    tags,
    buildArgs: parseKeyValues(values.list('build-arg'), '--build-arg', env),
    noCache: values.boolean('no-cache') ?? false,
    pull: values.boolean('pull') ?? false,
    outputs,
    labels: parseKeyValues(values.list('label'), '--label', {}),
    secrets: values.list('secret').map(parseSecret),
    ssh: values.list('ssh').map(parseSsh),
    network,
    allow: parseAllow(values.list('allow')),
    addHosts: values.list('add-host').map(parseAddHost),
    platform: parsePlatform(values.string('platform')),
    buildContexts: parseBuildContexts(values.list('build-context')),
    ...remoteCacheOptions(values, env),
    ...runLimits(values),
    ...(annotations === undefined ? {} : { annotations }),
    ...(target === undefined ? {} : { target }),
  };
}

function runLimits(values: OptionValues): Pick<BuildOptions, 'shmSize' | 'ulimits'> {
  const shmSize = parseShmSize(values.string('shm-size'));
  const ulimits = parseUlimits(values.list('ulimit'));
  return {
    ...(shmSize === undefined ? {} : { shmSize }),
    ...(ulimits.length === 0 ? {} : { ulimits }),
  };
}

function optionalAnnotations(annotations: ImageAnnotations): ImageAnnotations | undefined {
  return hasAnnotations(annotations) ? annotations : undefined;
}

function remoteCacheOptions(
  values: OptionValues,
  env: Readonly<Record<string, string | undefined>>,
): Pick<BuildOptions, 'cacheTo' | 'cacheFrom'> {
  const cacheTo = values.list('cache-to').map(parseCacheTo);
  // BuildKit's spelling of an inline cache export, still used by many CI set-ups.
  const inlineArg = parseKeyValues(values.list('build-arg'), '--build-arg', env).get(
    'BUILDKIT_INLINE_CACHE',
  );
  if (
    (inlineArg === '1' || inlineArg === 'true') &&
    !cacheTo.some((spec) => spec.type === 'inline')
  )
    cacheTo.push({ type: 'inline' });
  const cacheFrom = values.list('cache-from').map(parseCacheFrom);
  return {
    ...(cacheTo.length === 0 ? {} : { cacheTo }),
    ...(cacheFrom.length === 0 ? {} : { cacheFrom }),
  };
}

/** `--build-context` values; a name given twice is refused. */
export function parseBuildContexts(values: readonly string[]): BuildContextSpec[] {
  const specs = values.map(parseBuildContext);
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name)) throw usage(`--build-context "${spec.name}" is given twice`);
    seen.add(spec.name);
  }
  return specs;
}

function usage(message: string, hint?: string): TbuildError {
  return new TbuildError('TB_USAGE', message, hint === undefined ? {} : { hint });
}

export type OutputType = 'docker' | 'oci' | 'local' | 'tar' | 'image';
const OUTPUT_TYPES: readonly OutputType[] = ['docker', 'oci', 'local', 'tar', 'image'];
export type Compression = 'gzip' | 'zstd' | 'uncompressed';
const COMPRESSIONS: readonly Compression[] = ['gzip', 'zstd', 'uncompressed'];

export interface OutputSpec {
  readonly type: OutputType;
  /** A path, or `-` for standard output. */
  readonly dest?: string;
  readonly names: readonly string[];
  readonly push: boolean;
  readonly compression: Compression;
  readonly compressionLevel?: number;
  /** oci/docker only: false writes an OCI layout directory instead of a tar. */
  readonly tar: boolean;
  readonly ociMediaTypes?: boolean;
  /** `annotation[-TYPE].KEY=VALUE` options (image, oci and docker outputs). */
  readonly annotations?: ImageAnnotations;
}

export interface SecretSpec {
  readonly id: string;
  readonly source:
    | { readonly type: 'file'; readonly path: string }
    | { readonly type: 'env'; readonly name: string };
}

export interface SshSpec {
  readonly id: string;
  /** Agent socket or key files; empty means $SSH_AUTH_SOCK. */
  readonly paths: readonly string[];
}

/** `--allow a,b --allow c`, as buildx: each value an entitlement BuildKit knows. */
function parseAllow(values: readonly string[]): Entitlement[] {
  const allowed = new Set<Entitlement>();
  for (const value of values.flatMap((entry) => entry.split(','))) {
    const name = value.trim();
    if (!(ENTITLEMENTS as readonly string[]).includes(name)) {
      throw usage(`invalid --allow "${name}": use ${ENTITLEMENTS.join(' or ')}`);
    }
    allowed.add(name as Entitlement);
  }
  return [...allowed];
}

function parseKeyValues(
  values: readonly string[],
  flag: string,
  env: Readonly<Record<string, string | undefined>>,
): Map<string, string> {
  const result = new Map<string, string>();
  for (const value of values) {
    const equals = value.indexOf('=');
    if (equals === 0) throw usage(`invalid ${flag} "${value}": the name is empty`);
    if (equals > 0) {
      result.set(value.slice(0, equals), value.slice(equals + 1));
      continue;
    }
    // docker: `--build-arg NAME` takes the value from the environment, or is ignored.
    const fromEnv = env[value];
    if (fromEnv !== undefined) result.set(value, fromEnv);
  }
  return result;
}

function defaultOutput(partial: Partial<OutputSpec> & { type: OutputType }): OutputSpec {
  return { names: [], push: false, compression: 'gzip', tar: true, ...partial };
}

/** `-o dir` is a local export, `-o -` a tar on stdout, otherwise CSV options. */
export function parseOutput(text: string): OutputSpec {
  if (text === '-') return defaultOutput({ type: 'tar', dest: '-' });
  if (!text.includes('=')) return defaultOutput({ type: 'local', dest: text });
  const options = parseCsvOptions(text, '--output');
  const type = options.get('type');
  if (type === undefined)
    throw usage(`invalid --output "${text}": type is required (type=${OUTPUT_TYPES.join('|')})`);
  const normalisedType = type === 'registry' ? 'image' : type;
  if (!(OUTPUT_TYPES as readonly string[]).includes(normalisedType)) {
    throw usage(`invalid --output type "${type}": use one of ${OUTPUT_TYPES.join(', ')}`);
  }
  const known = new Set([
    'type',
    'dest',
    'name',
    'push',
    'compression',
    'compression-level',
    'tar',
    'oci-mediatypes',
  ]);
  let annotations = NO_ANNOTATIONS;
  for (const [key, value] of options) {
    if (known.has(key)) continue;
    const added = addOutputAnnotation(annotations, key, value);
    if (added === undefined) throw usage(`invalid --output option "${key}" in "${text}"`);
    annotations = added;
  }
  const compression = options.get('compression') ?? 'gzip';
  if (!(COMPRESSIONS as readonly string[]).includes(compression)) {
    throw usage(`invalid --output compression "${compression}": use gzip, zstd or uncompressed`);
  }
  const level = parseOptionalInteger(options.get('compression-level'), 'compression-level');
  if (level !== undefined && (level < 0 || level > (compression === 'zstd' ? 22 : 9))) {
    throw usage(`invalid --output compression-level ${String(level)} for ${compression}`);
  }
  const dest = options.get('dest');
  const names = (options.get('name') ?? '').split(',').filter((name) => name !== '');
  for (const name of names) checkTag(name);
  const ociMediaTypes = options.get('oci-mediatypes');
  const spec = defaultOutput({
    type: normalisedType as OutputType,
    names,
    push: parseBooleanOption(options.get('push'), 'push') ?? type === 'registry',
    compression: compression as Compression,
    tar: parseBooleanOption(options.get('tar'), 'tar') ?? true,
    ...(dest === undefined ? {} : { dest }),
    ...(level === undefined ? {} : { compressionLevel: level }),
    ...(hasAnnotations(annotations) ? { annotations } : {}),
    ...(ociMediaTypes === undefined
      ? {}
      : { ociMediaTypes: parseBooleanOption(ociMediaTypes, 'oci-mediatypes') ?? true }),
  });
  if ((spec.type === 'local' || spec.type === 'tar') && spec.dest === undefined) {
    throw usage(`--output type=${spec.type} needs dest=PATH`);
  }
  if (spec.push && spec.type !== 'image')
    throw usage(`--output push=true needs type=image, got type=${spec.type}`);
  return spec;
}

export function parseSecret(text: string): SecretSpec {
  const options = parseCsvOptions(text, '--secret');
  const id = options.get('id');
  if (id === undefined || id === '') throw usage(`invalid --secret "${text}": id is required`);
  for (const key of options.keys()) {
    if (!['id', 'src', 'source', 'env', 'type'].includes(key))
      throw usage(`invalid --secret option "${key}" in "${text}"`);
  }
  const path = options.get('src') ?? options.get('source');
  const envName = options.get('env');
  const type = options.get('type');
  if (type === 'env' || (envName !== undefined && path === undefined)) {
    return { id, source: { type: 'env', name: envName ?? path ?? id } };
  }
  // buildx: without a source, the secret's id names an environment variable or a file.
  return { id, source: path === undefined ? { type: 'env', name: id } : { type: 'file', path } };
}

export function parseSsh(text: string): SshSpec {
  const equals = text.indexOf('=');
  const id = equals < 0 ? text : text.slice(0, equals);
  if (id === '') throw usage(`invalid --ssh "${text}": the id is empty`);
  const paths =
    equals < 0
      ? []
      : text
          .slice(equals + 1)
          .split(',')
          .filter((path) => path !== '');
  return { id, paths };
}

function parseAddHost(text: string): { host: string; ip: string } {
  // docker accepts host:ip and host=ip; an IPv6 address contains colons, so split at the first separator.
  const match = /^([^:=]+)[:=](.+)$/.exec(text);
  const host = match?.[1];
  const ip = match?.[2]?.replace(/^\[(.*)\]$/, '$1');
  if (host === undefined || ip === undefined || isIP(ip) === 0) {
    throw usage(`invalid --add-host "${text}": expected host:ip with a valid IP address`);
  }
  return { host, ip };
}

function parsePlatform(text: string | undefined): BuildOptions['platform'] {
  if (text !== undefined) {
    const platforms = text.split(',').map((platform) => platform.trim().toLowerCase());
    for (const platform of platforms) {
      if (platform !== 'linux/amd64' && platform !== 'linux/x86_64' && platform !== 'local') {
        throw usage(
          `unsupported --platform "${platform}": tbuild builds linux/amd64 only`,
          'emulated cross-platform builds are not supported yet',
        );
      }
    }
  }
  return { os: 'linux', architecture: 'amd64' };
}

function checkTag(tag: string): void {
  // The registry client validates references fully; catch obvious mistakes at the flag.
  if (tag === '' || /\s/.test(tag)) throw usage(`invalid tag "${tag}"`);
  const name = tag.replace(/@sha256:[0-9a-f]{64}$/, '').replace(/:\w[\w.-]{0,127}$/, '');
  if (name !== name.toLowerCase()) {
    throw usage(`invalid tag "${tag}": repository name must be lowercase`);
  }
}

export function parseOptionalInteger(text: string | undefined, what: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^-?\d+$/.test(text)) throw usage(`invalid ${what} "${text}": expected an integer`);
  return Number(text);
}

export function parseOptionalPositiveInteger(
  text: string | undefined,
  what: string,
): number | undefined {
  const value = parseOptionalInteger(text, what);
  if (value !== undefined && value < 1)
    throw usage(`invalid ${what} ${String(value)}: must be at least 1`);
  return value;
}

function parseBooleanOption(text: string | undefined, what: string): boolean | undefined {
  if (text === undefined) return undefined;
  if (text === '' || text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw usage(`invalid ${what}="${text}": expected true or false`);
}
