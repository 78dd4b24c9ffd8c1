import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { dockerBuildParams, dockerFlag } from './build-params.js';

/** What the docker CLI 20.10 sends for `docker build -t app .` (the classic builder). */
const CLI_DEFAULTS = {
  buildargs: '{}',
  cachefrom: 'null',
  cgroupparent: '',
  cpuperiod: '0',
  cpuquota: '0',
  cpusetcpus: '',
  cpusetmems: '',
  cpushares: '0',
  dockerfile: 'Dockerfile',
  labels: '{}',
  memory: '0',
  memswap: '0',
  networkmode: 'default',
  rm: '1',
  shmsize: '0',
  target: '',
  ulimits: 'null',
  version: '1',
};

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isTbuildError(error) ? error.code : 'not a TbuildError';
  }
  return undefined;
}

describe('dockerBuildParams', () => {
  it('reads what the docker CLI sends by default, without warnings', () => {
    const params = dockerBuildParams({ ...CLI_DEFAULTS, t: 'app' });
    expect(params).toEqual({
      query: { tag: ['app'], dockerfile: 'Dockerfile' },
      quiet: false,
      warnings: [],
    });
  });

  it('maps tags, build args, labels, target, flags, network, platform and hosts to the native query', () => {
    const params = dockerBuildParams({
      t: ['app:1', 'app:2'],
      dockerfile: 'sub/Dockerfile.ci',
      buildargs: JSON.stringify({ A: '1', B: null, N: 3 }),
      labels: JSON.stringify({ team: 'ci' }),
      target: 'final',
      nocache: '1',
      pull: 'true',
      networkmode: 'host',
      platform: 'linux/amd64',
      extrahosts: 'db:10.0.0.2',
      q: '1',
    });
    expect(params.query).toEqual({
      tag: ['app:1', 'app:2'],
      dockerfile: 'sub/Dockerfile.ci',
      'build-arg': ['A=1', 'N=3'],
      label: ['team=ci'],
      target: 'final',
      'no-cache': 'true',
      pull: 'true',
      network: 'host',
      platform: 'linux/amd64',
      'add-host': ['db:10.0.0.2'],
    });
    expect(params.quiet).toBe(true);
  });

  it('maps shmsize and ulimits to shm-size and ulimit', () => {
    const params = dockerBuildParams({
      ...CLI_DEFAULTS,
      shmsize: '134217728',
      ulimits: JSON.stringify([
        { Name: 'nofile', Hard: 2048, Soft: 1024 },
        { Name: 'core', Hard: -1, Soft: -1 },
      ]),
    });
    expect(params.query).toMatchObject({
      'shm-size': '134217728',
      ulimit: ['nofile=1024:2048', 'core=-1:-1'],
    });
    expect(params.warnings).toEqual([]);
    expect(codeOf(() => dockerBuildParams({ ulimits: '{"Name":"nofile"}' }))).toBe(
      'TB_SERVICE_REQUEST',
    );
    expect(codeOf(() => dockerBuildParams({ ulimits: '[{"Name":"nofile","Soft":"1"}]' }))).toBe(
      'TB_SERVICE_REQUEST',
    );
  });

  it('warns about cachefrom and resource limits it does not apply', () => {
    const params = dockerBuildParams({
      ...CLI_DEFAULTS,
      cachefrom: '["reg/app:cache"]',
      memory: '1073741824',
    });
    expect(params.warnings).toHaveLength(2);
    expect(params.warnings[0]).toContain('reg/app:cache');
    expect(params.warnings[1]).toMatch(/^memory=1073741824 is ignored/);
  });

  it('refuses what would change the result, and malformed JSON', () => {
    expect(codeOf(() => dockerBuildParams({ squash: '1' }))).toBe('TB_UNSUPPORTED');
    expect(codeOf(() => dockerBuildParams({ remote: 'https://example.com/ctx.tar' }))).toBe(
      'TB_UNSUPPORTED',
    );
    expect(codeOf(() => dockerBuildParams({ version: '2' }))).toBe('TB_UNSUPPORTED');
    expect(codeOf(() => dockerBuildParams({ networkmode: 'container:abc' }))).toBe(
      'TB_UNSUPPORTED',
    );
    expect(codeOf(() => dockerBuildParams({ buildargs: '{nope' }))).toBe('TB_SERVICE_REQUEST');
    expect(codeOf(() => dockerBuildParams({ labels: '["a"]' }))).toBe('TB_SERVICE_REQUEST');
    expect(codeOf(() => dockerBuildParams({ cachefrom: '{"a":1}' }))).toBe('TB_SERVICE_REQUEST');
  });

  it('reads booleans as Docker does', () => {
    for (const value of ['1', 'true', 'True', 'yes']) expect(dockerFlag(value)).toBe(true);
    for (const value of [undefined, '', '0', 'false', 'no', 'none'])
      expect(dockerFlag(value)).toBe(false);
  });
});
