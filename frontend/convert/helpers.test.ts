import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { normalizeChmod, parseChown } from './copy.js';
import { parsePortSpec } from './expose.js';
import { parseGitRef } from './git-ref.js';
import { formatGoDuration, goQuotedList, parseGoDuration } from './go-format.js';
import { normalizeImageRef } from './image-ref.js';
import { joinWorkdir, resolveDest } from './paths.js';
import { formatPlatform, parsePlatform } from './platform.js';
import { parseBytes } from './run.js';

describe('Go formatting', () => {
  it.each([
    ['30s', 30e9],
    ['1m30s', 90e9],
    ['1.5h', 5400e9],
    ['250ms', 250e6],
    ['10us', 10e3],
    ['0', 0],
  ])('parses %s', (text, nanos) => {
    expect(parseGoDuration(text)).toBe(nanos);
  });

  it.each(['5', '', 's', '1x', '--1s'])('rejects %j', (text) => {
    expect(() => parseGoDuration(text)).toThrow(/invalid duration/);
  });

  it.each([
    [0, '0s'],
    [30e9, '30s'],
    [90e9, '1m30s'],
    [3600e9, '1h0m0s'],
    [1.5e9, '1.5s'],
    [250e6, '250ms'],
    [1500, '1.5µs'],
  ])('formats %d as %s', (nanos, text) => {
    expect(formatGoDuration(nanos)).toBe(text);
  });

  it('quotes slices like %q', () => {
    expect(goQuotedList(['/bin/sh', '-c', 'echo "hi"'])).toBe('["/bin/sh" "-c" "echo \\"hi\\""]');
  });
});

describe('references and platforms', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['user/app', 'docker.io/user/app:latest'],
    ['ghcr.io/org/app:v1', 'ghcr.io/org/app:v1'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    [`alpine@sha256:${'a'.repeat(64)}`, `docker.io/library/alpine@sha256:${'a'.repeat(64)}`],
  ])('normalises %s', (ref, normal) => {
    expect(normalizeImageRef(ref)).toBe(normal);
  });

  it.each(['Busybox', 'a b', 'app:', 'x@sha256:zz'])('rejects %j', (ref) => {
    expect(() => normalizeImageRef(ref)).toThrow(/invalid reference format/);
  });

  it.each([
    ['linux/amd64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['LINUX/ARM64', 'linux/arm64'],
  ])('parses platform %s', (text, normal) => {
    expect(formatPlatform(parsePlatform(text))).toBe(normal);
  });

  it('rejects malformed platforms', () => {
    const error: unknown = (() => {
      try {
        return parsePlatform('linux//amd64');
      } catch (e) {
        return e;
      }
    })();
    expect(isTbuildError(error, 'TB_DOCKERFILE_PLATFORM')).toBe(true);
  });
});

describe('COPY helpers', () => {
  it('parses --chown', () => {
    expect(parseChown('app')).toEqual({ user: { name: 'app' } });
    expect(parseChown('1000:staff')).toEqual({ user: { id: 1000 }, group: { name: 'staff' } });
    expect(() => parseChown(':0')).toThrow(/user is missing/);
  });

  it('normalises --chmod', () => {
    expect(normalizeChmod('0644')).toBe('644');
    expect(normalizeChmod('4755')).toBe('4755');
    expect(normalizeChmod('a+rX,u=rw')).toBe('a+rX,u=rw');
    expect(() => normalizeChmod('17777')).toThrow(/07777/);
    expect(() => normalizeChmod('u+q')).toThrow(/chmod/);
  });

  it('keeps the trailing slash of a destination', () => {
    expect(resolveDest('/app', '.')).toBe('/app/');
    expect(resolveDest('/app', 'bin/')).toBe('/app/bin/');
    expect(resolveDest('/app', '/etc/x')).toBe('/etc/x');
    expect(resolveDest('/', 'x/.')).toBe('/x/');
  });

  it('joins WORKDIRs', () => {
    expect(joinWorkdir('/a', 'b/')).toBe('/a/b');
    expect(joinWorkdir('/a', '../../c')).toBe('/c');
    expect(joinWorkdir('/a', '/')).toBe('/');
  });

  it('recognises git sources', () => {
    expect(parseGitRef('https://example.com/file.tar.gz')).toBeUndefined();
    expect(parseGitRef('src/app.git')).toBeUndefined();
    expect(parseGitRef('https://github.com/o/r.git#main:docs')).toEqual({
      remote: 'https://github.com/o/r.git',
      ref: 'main',
      subdir: 'docs',
    });
    expect(parseGitRef('git@github.com:o/r.git#v1')).toEqual({
      remote: 'git@github.com:o/r.git',
      ref: 'v1',
    });
    expect(parseGitRef('https://github.com/o/r.git?ref=v2&keep-git-dir=true')).toEqual({
      remote: 'https://github.com/o/r.git',
      ref: 'v2',
      keepGitDir: true,
    });
  });
});

describe('EXPOSE and sizes', () => {
  it('expands port specs', () => {
    expect(parsePortSpec('80')).toEqual(['80/tcp']);
    expect(parsePortSpec('53/udp')).toEqual(['53/udp']);
    expect(parsePortSpec('8080:80')).toEqual(['80/tcp']);
    expect(parsePortSpec('1-3/sctp')).toEqual(['1/sctp', '2/sctp', '3/sctp']);
    expect(() => parsePortSpec('3-1')).toThrow(/invalid containerPort/);
  });

  it('parses tmpfs sizes', () => {
    expect(parseBytes('1024')).toBe(1024);
    expect(parseBytes('64m')).toBe(64 * 1024 * 1024);
    expect(parseBytes('1g')).toBe(1024 ** 3);
    expect(parseBytes('512kb')).toBe(512 * 1024);
    expect(() => parseBytes('lots')).toThrow(/invalid size/);
  });
});
