import { describe, expect, it } from 'vitest';
import { TbuildError } from '../core/index.js';
import { parseShmSize, parseUlimits } from './run-limit-options.js';

function usageError(run: () => unknown): TbuildError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TbuildError);
    expect((error as TbuildError).code).toBe('TB_USAGE');
    return error as TbuildError;
  }
  throw new Error('expected a usage error');
}

describe('--shm-size', () => {
  it('reads bytes and binary units as docker does', () => {
    expect(parseShmSize('1048576')).toBe(1048576);
    expect(parseShmSize('128m')).toBe(128 * 1024 * 1024);
    expect(parseShmSize('128M')).toBe(128 * 1024 * 1024);
    expect(parseShmSize('64MiB')).toBe(64 * 1024 * 1024);
    expect(parseShmSize('512kb')).toBe(512 * 1024);
    expect(parseShmSize('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(parseShmSize('100b')).toBe(100);
  });

  it('takes absent, empty and 0 as the default', () => {
    expect(parseShmSize(undefined)).toBeUndefined();
    expect(parseShmSize('')).toBeUndefined();
    expect(parseShmSize('0')).toBeUndefined();
  });

  it('refuses what is not a size, naming the flag', () => {
    for (const bad of ['-1', 'big', '12x', '1,5g', 'm']) {
      expect(usageError(() => parseShmSize(bad)).message).toContain('--shm-size');
    }
  });
});

describe('--ulimit', () => {
  it('reads NAME=SOFT and NAME=SOFT:HARD, sorted by name', () => {
    expect(parseUlimits(['nofile=1024:2048', 'core=0'])).toEqual([
      { name: 'core', soft: 0, hard: 0 },
      { name: 'nofile', soft: 1024, hard: 2048 },
    ]);
  });

  it('keeps the last value of a name given twice', () => {
    expect(parseUlimits(['nproc=10', 'nproc=20:30'])).toEqual([
      { name: 'nproc', soft: 20, hard: 30 },
    ]);
  });

  it('takes -1 and unlimited as no limit', () => {
    expect(parseUlimits(['core=-1', 'memlock=unlimited', 'stack=8192:-1'])).toEqual([
      { name: 'core', soft: -1, hard: -1 },
      { name: 'memlock', soft: -1, hard: -1 },
      { name: 'stack', soft: 8192, hard: -1 },
    ]);
  });

  it('refuses an unknown name and lists the accepted ones', () => {
    const error = usageError(() => parseUlimits(['files=10']));
    expect(error.message).toContain('--ulimit "files=10"');
    expect(error.hint).toContain('nofile');
    expect(error.hint).toContain('sigpending');
  });

  it('refuses bad forms and values', () => {
    for (const bad of [
      'nofile',
      'nofile=',
      'nofile=a',
      'nofile=1:2:3',
      'nofile=2048:1024',
      'nofile=-1:1024',
      'nofile=1.5',
      'nofile=99999999999999999999',
    ]) {
      expect(usageError(() => parseUlimits([bad])).message).toContain('--ulimit');
    }
  });
});
