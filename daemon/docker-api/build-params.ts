import { TbuildError } from '../../core/index.js';
import type { Query } from '../http/build-query.js';

/** `POST /build` as tbuild runs it: the native API's query (checked by parseBuildQuery) and what is Docker's own. */
export interface DockerBuildParams {
  /** The same options in the words of `POST /v1/builds` (`tag`, `build-arg`, `no-cache`…). */
  readonly query: Query;
  /** `q`: only the image ID is sent back, not the build's output. */
  readonly quiet: boolean;
  /** Options accepted but without effect here, said in the stream before the build's output. */
  readonly warnings: readonly string[];
}

/**
 * Resource settings of Docker's classic builder for its RUN containers: tbuild
 * does not apply them, but they do not change what is built, so a job that
 * sets them is built anyway, with a warning. Each is "unset" at these values
 * (the docker CLI always sends them).
 */
const IGNORED_WHEN_UNSET: Readonly<Record<string, readonly string[]>> = {
  memory: ['', '0'],
  memswap: ['', '0'],
  cpushares: ['', '0'],
  cpuquota: ['', '0'],
  cpuperiod: ['', '0'],
  cpusetcpus: [''],
  cpusetmems: [''],
  cgroupparent: [''],
  isolation: ['', 'default'],
};

/**
 * Reads the query of Docker's `POST /build` (API 1.41): `t` (repeatable),
 * `dockerfile`, `buildargs` and `labels` (JSON objects), `target`, `nocache`,
 * `pull`, `networkmode`, `platform`, `extrahosts`, `shmsize` (bytes), `ulimits`
 * (a JSON array of `{Name, Soft, Hard}`), `q`, `cachefrom`. What
 * would change the result and tbuild cannot do (`squash`, `remote`,
 * `outputs`, a BuildKit session with `version=2`) is refused; unknown
 * parameters are ignored, as Docker ignores them.
 */
export function dockerBuildParams(query: Query): DockerBuildParams {
  const warnings: string[] = [];
  const v1: Record<string, string | readonly string[]> = {};
  const tags = all(query, 't').filter((tag) => tag !== '');
  if (tags.length > 0) v1['tag'] = tags;
  const dockerfile = one(query, 'dockerfile');
  if (dockerfile !== undefined && dockerfile !== '') v1['dockerfile'] = dockerfile;
  const target = one(query, 'target');
  if (target !== undefined && target !== '') v1['target'] = target;
  const buildArgs = jsonObject(query, 'buildargs');
  // A null value is `--build-arg NAME` with NAME unset on the client: the ARG keeps its default.
  const args = Object.entries(buildArgs).flatMap(([name, value]) =>
    value === null ? [] : [`${name}=${text(value, 'buildargs', name)}`],
  );
  if (args.length > 0) v1['build-arg'] = args;
  const labels = Object.entries(jsonObject(query, 'labels')).map(
    ([name, value]) => `${name}=${text(value, 'labels', name)}`,
  );
  if (labels.length > 0) v1['label'] = labels;
  if (flag(query, 'nocache')) v1['no-cache'] = 'true';
  if (flag(query, 'pull')) v1['pull'] = 'true';
  const network = networkMode(one(query, 'networkmode'));
  if (network !== undefined) v1['network'] = network;
  const platform = one(query, 'platform');
  if (platform !== undefined && platform !== '') v1['platform'] = platform;
  const hosts = all(query, 'extrahosts')
    .flatMap((value) => value.split(','))
    .filter((host) => host !== '');
  if (hosts.length > 0) v1['add-host'] = hosts;
  const shmSize = one(query, 'shmsize');
  if (shmSize !== undefined && shmSize !== '' && shmSize !== '0') v1['shm-size'] = shmSize;
  const ulimits = dockerUlimits(query);
  if (ulimits.length > 0) v1['ulimit'] = ulimits;

  refuse(query);
  const cacheFrom = jsonArray(query, 'cachefrom');
  if (cacheFrom.length > 0)
    warnings.push(
      `cachefrom (${cacheFrom.join(', ')}) is ignored: tbuild does not import remote cache yet; the service's own cache is used`,
    );
  for (const [name, unset] of Object.entries(IGNORED_WHEN_UNSET)) {
    const value = one(query, name);
    if (value !== undefined && !unset.includes(value))
      warnings.push(`${name}=${value} is ignored: tbuild does not limit RUN steps this way`);
  }
  return { query: v1, quiet: flag(query, 'q'), warnings };
}

/** Docker's boolean query values (httputils.BoolValue): anything but empty, 0, no, false, none. */
export function dockerFlag(value: string | undefined): boolean {
  const normalised = (value ?? '').trim().toLowerCase();
  return !['', '0', 'no', 'false', 'none'].includes(normalised);
}

function refuse(query: Query): void {
  const unsupported = (what: string, hint: string): TbuildError =>
    new TbuildError('TB_UNSUPPORTED', `tbuild does not serve POST /build with ${what}`, { hint });
  if (flag(query, 'squash'))
    throw unsupported('squash', 'drop --squash; a multi-stage build makes a small image instead');
  const remote = one(query, 'remote');
  if (remote !== undefined && remote !== '')
    throw unsupported(
      'remote (a context from a URL)',
      'send the context as a tar (a local directory with the docker CLI)',
    );
  const outputs = one(query, 'outputs');
  if (outputs !== undefined && outputs !== '' && outputs !== 'null' && outputs !== '[]')
    throw unsupported('outputs', 'tag the image with -t and push it with docker push');
  if (one(query, 'version') === '2')
    throw unsupported(
      'version=2 (a BuildKit session)',
      'set DOCKER_BUILDKIT=0 so the client uses the classic build API',
    );
  const security = all(query, 'securityopt').filter((option) => option !== '');
  if (security.length > 0)
    throw unsupported(`securityopt ${security.join(',')}`, 'drop --security-opt');
}

/** `ulimits=[{"Name":"nofile","Soft":1024,"Hard":2048}]` as `--ulimit nofile=1024:2048` (checked there). */
function dockerUlimits(query: Query): string[] {
  const value = jsonValue(query, 'ulimits');
  if (value === null) return [];
  const invalid = (): TbuildError =>
    new TbuildError(
      'TB_SERVICE_REQUEST',
      'query parameter ulimits must be a JSON array of {"Name", "Soft", "Hard"}',
      { hint: 'e.g. ulimits=[{"Name":"nofile","Soft":1024,"Hard":2048}]' },
    );
  if (!Array.isArray(value)) throw invalid();
  return value.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) throw invalid();
    const { Name: name, Soft: soft, Hard: hard } = item as Record<string, unknown>;
    if (typeof name !== 'string' || !Number.isInteger(soft) || !Number.isInteger(hard))
      throw invalid();
    return `${name}=${String(soft)}:${String(hard)}`;
  });
}

function networkMode(value: string | undefined): string | undefined {
  switch (value) {
    case undefined:
    case '':
    case 'default':
    case 'bridge':
      return undefined;
    case 'none':
    case 'host':
      return value;
    default:
      throw new TbuildError(
        'TB_UNSUPPORTED',
        `tbuild does not serve POST /build with networkmode=${value}`,
        { hint: 'use networkmode default, none or host' },
      );
  }
}

function all(query: Query, name: string): readonly string[] {
  const value = query[name];
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

function one(query: Query, name: string): string | undefined {
  return all(query, name).at(-1);
}

function flag(query: Query, name: string): boolean {
  return dockerFlag(one(query, name));
}

function jsonValue(query: Query, name: string): unknown {
  const value = one(query, name);
  if (value === undefined || value === '') return null;
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new TbuildError('TB_SERVICE_REQUEST', `query parameter ${name} is not JSON: ${value}`, {
      cause: error,
    });
  }
}

function jsonObject(query: Query, name: string): Readonly<Record<string, unknown>> {
  const value = jsonValue(query, name);
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new TbuildError('TB_SERVICE_REQUEST', `query parameter ${name} must be a JSON object`, {
      hint: `e.g. ${name}={"NAME":"value"}`,
    });
  return value as Record<string, unknown>;
}

function jsonArray(query: Query, name: string): readonly string[] {
  const value = jsonValue(query, name);
  if (value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string'))
    throw new TbuildError(
      'TB_SERVICE_REQUEST',
      `query parameter ${name} must be a JSON array of strings`,
    );
  return value as string[];
}

function text(value: unknown, parameter: string, name: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TbuildError(
    'TB_SERVICE_REQUEST',
    `query parameter ${parameter}: the value of ${name} must be a string`,
  );
}
