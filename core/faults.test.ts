import { describe, expect, it } from 'vitest';
import { isTbuildError } from './errors.js';
import { faultInjector, parseFaultSpec } from './faults.js';

describe('parseFaultSpec', () => {
  it('reads enospc:N and eio:N', () => {
    expect(parseFaultSpec('enospc:3', 'X')).toEqual({ errno: 'ENOSPC', nth: 3 });
    expect(parseFaultSpec('EIO:12', 'X')).toEqual({ errno: 'EIO', nth: 12 });
  });

  it('refuses anything else as TB_USAGE naming the source', () => {
    for (const text of ['enospc', 'enospc:0', 'eperm:1', 'eio:-1', 'eio:1x']) {
      let caught: unknown;
      try {
        parseFaultSpec(text, 'TBUILD_FAULT_INJECT');
      } catch (error) {
        caught = error;
      }
      expect(isTbuildError(caught, 'TB_USAGE'), text).toBe(true);
      expect((caught as Error).message).toContain('TBUILD_FAULT_INJECT');
    }
  });
});

describe('faultInjector', () => {
  it('fails only the Nth write, with the errno, syscall and path a real write gives', () => {
    const faults = faultInjector({ errno: 'ENOSPC', nth: 2 });
    expect(() => {
      faults.write('/a');
    }).not.toThrow();
    let caught: NodeJS.ErrnoException | undefined;
    try {
      faults.write('/b');
    } catch (error) {
      caught = error as NodeJS.ErrnoException;
    }
    expect(caught?.code).toBe('ENOSPC');
    expect(caught?.errno).toBe(-28);
    expect(caught?.syscall).toBe('write');
    expect(caught?.path).toBe('/b');
    expect(() => {
      faults.write('/c');
    }).not.toThrow();
  });
});
