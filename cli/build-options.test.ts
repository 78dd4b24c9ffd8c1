import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../core/index.js';
import { parseOutput } from '../builder/index.js';
import { parseBuildRequest, type BuildRequest } from './build-options.js';

function parse(argv: string[], env: Record<string, string> = {}): BuildRequest {
  const request = parseBuildRequest(argv, env);
  if (request === 'help') throw new TypeError('unexpected help');
  return request;
}

function usageError(argv: string[]): string {
  try {
    parseBuildRequest(argv, {});
  } catch (error) {
    if (isTbuildError(error, 'TB_USAGE')) return error.message;
    throw error;
  }
  throw new TypeError(`expected a usage error for ${argv.join(' ')}`);
}

describe('parseBuildRequest', () => {
  it('reads buildx flags in all their spellings', () => {
    const request = parse(
      [
        '-f',
        'Dockerfile.dev',
        '-t',
        'app:1',
        '--tag=app:latest',
        '-tapp:x',
        '--build-arg',
        'A=1',
        '--build-arg=B',
        '--no-cache',
        '--target',
        'build',
        '-q',
        '--progress=plain',
        '--label',
        'team=core',
        '--network=none',
        '--add-host',
        'db:10.0.0.2',
        '--max-parallelism',
        '3',
        'ctx',
      ],
      { B: 'from-env' },
    );
    expect(request).toMatchObject({
      contextPath: 'ctx',
      dockerfile: 'Dockerfile.dev',
      tags: ['app:1', 'app:latest', 'app:x'],
      target: 'build',
      noCache: true,
      quiet: true,
      progress: 'plain',
      network: 'none',
      addHosts: [{ host: 'db', ip: '10.0.0.2' }],
      maxParallelism: 3,
    });
    expect(Object.fromEntries(request.buildArgs)).toEqual({ A: '1', B: 'from-env' });
    expect(Object.fromEntries(request.labels)).toEqual({ team: 'core' });
  });

  it('drops --build-arg NAME when NAME is not in the environment, as docker does', () => {
    expect(parse(['--build-arg', 'MISSING', '.']).buildArgs.size).toBe(0);
  });

  it('accepts booleans written with a value', () => {
    expect(parse(['--no-cache=false', '.']).noCache).toBe(false);
    expect(parse(['--pull=true', '.']).pull).toBe(true);
  });

  it('parses secrets and ssh specs', () => {
    const request = parse([
      '--secret',
      'id=npm,src=/home/me/.npmrc',
      '--secret',
      'id=TOKEN',
      '--secret',
      'id=k,env=API_KEY',
      '--ssh',
      'default',
      '--ssh',
      'git=/tmp/agent.sock',
      '.',
    ]);
    expect(request.secrets).toEqual([
      { id: 'npm', source: { type: 'file', path: '/home/me/.npmrc' } },
      { id: 'TOKEN', source: { type: 'env', name: 'TOKEN' } },
      { id: 'k', source: { type: 'env', name: 'API_KEY' } },
    ]);
    expect(request.ssh).toEqual([
      { id: 'default', paths: [] },
      { id: 'git', paths: ['/tmp/agent.sock'] },
    ]);
  });

  it('turns --push into an image output that pushes', () => {
    expect(parse(['--push', '-t', 'r/x', '.']).outputs).toEqual([
      { type: 'image', names: [], push: true, compression: 'gzip', tar: true },
    ]);
  });

  it.each([
    [['--tagg', 'x', '.'], 'unknown flag: --tagg (did you mean --tag?)'],
    [['--no-cach', '.'], 'did you mean --no-cache?'],
    [['-Z', '.'], "unknown shorthand flag: 'Z'"],
    [['-t'], 'flag needs an argument: -t'],
    [[], 'requires exactly 1 argument'],
    [['a', 'b'], 'requires exactly 1 argument'],
    [['--progress=fancy', '.'], 'invalid --progress "fancy"'],
    [['--network=bridge', '.'], 'invalid --network "bridge"'],
    [['--platform=linux/arm64', '.'], 'unsupported --platform "linux/arm64"'],
    [['--add-host', 'db', '.'], 'invalid --add-host "db"'],
    [['--add-host', 'db:999.1.1.1', '.'], 'invalid --add-host'],
    [['--max-parallelism', '0', '.'], 'must be at least 1'],
    [['--no-cache=maybe', '.'], 'expected true or false'],
    [['-t', 'App:1', '.'], 'repository name must be lowercase'],
    [['--secret', 'src=/x', '.'], 'id is required'],
    [['--build-arg', '=x', '.'], 'the name is empty'],
  ])('refuses %j with a clear message', (argv, message) => {
    expect(usageError(argv)).toContain(message);
  });

  it('answers --help', () => {
    expect(parseBuildRequest(['--help'], {})).toBe('help');
  });
});

describe('parseOutput', () => {
  it.each([
    ['out', { type: 'local', dest: 'out' }],
    ['-', { type: 'tar', dest: '-' }],
    [
      'type=docker,dest=img.tar',
      { type: 'docker', dest: 'img.tar', compression: 'gzip', tar: true },
    ],
    ['type=oci,dest=layout,tar=false', { type: 'oci', dest: 'layout', tar: false }],
    ['type=image,name=r/a:1,push=true', { type: 'image', names: ['r/a:1'], push: true }],
    ['type=image,"name=r/a:1,r/a:2"', { type: 'image', names: ['r/a:1', 'r/a:2'] }],
    ['type=registry,name=r/a', { type: 'image', push: true }],
    [
      'type=oci,dest=x.tar,compression=zstd,compression-level=19',
      { compression: 'zstd', compressionLevel: 19 },
    ],
    ['type=tar,dest=fs.tar', { type: 'tar', dest: 'fs.tar' }],
  ])('parses %s', (text, expected) => {
    expect(parseOutput(text)).toMatchObject(expected);
  });

  it.each([
    ['type=zip,dest=x', 'invalid --output type "zip"'],
    ['dest=x,compression=gzip', 'type is required'],
    ['type=local', 'needs dest=PATH'],
    ['type=oci,dest=x,compression=lz4', 'invalid --output compression "lz4"'],
    ['type=oci,dest=x,compression-level=12', 'invalid --output compression-level 12'],
    ['type=oci,dest=x,push=true', 'push=true needs type=image'],
    ['type=oci,dest=x,colour=red', 'invalid --output option "colour"'],
    ['type=image,"name=x', 'unterminated quote'],
  ])('refuses %s', (text, message) => {
    expect(() => parseOutput(text)).toThrow(message);
  });
});
