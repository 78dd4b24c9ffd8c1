import { describe, expect, it } from 'vitest';
import { TbuildError } from '../core/index.js';
import { stepRlimits } from './rlimits.js';

describe('stepRlimits', () => {
  it('gives every step nofile and core limits by default', () => {
    expect(stepRlimits(undefined)).toEqual([
      { resource: 7, soft: '1048576', hard: '1048576' },
      { resource: 4, soft: '0', hard: '0' },
    ]);
  });

  it('replaces a default by name, adds others, and writes -1 as RLIM_INFINITY', () => {
    expect(
      stepRlimits([
        { name: 'core', soft: -1, hard: -1 },
        { name: 'nproc', soft: 100, hard: 200 },
      ]),
    ).toEqual([
      { resource: 7, soft: '1048576', hard: '1048576' },
      { resource: 4, soft: '18446744073709551615', hard: '18446744073709551615' },
      { resource: 6, soft: '100', hard: '200' },
    ]);
  });

  it('refuses a name it has no RLIMIT for', () => {
    expect(() => stepRlimits([{ name: 'files', soft: 1, hard: 1 }])).toThrow(TbuildError);
  });
});
