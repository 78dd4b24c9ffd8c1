import { describe, expect, it } from 'vitest';
import { argumentsTooLong, MAX_ARG_STRLEN } from './exec-limits.js';

describe('argumentsTooLong', () => {
  it('names the argument longer than MAX_ARG_STRLEN', () => {
    const error = argumentsTooLong(['/bin/sh', '-c', 'x'.repeat(MAX_ARG_STRLEN)], ['PATH=/bin']);
    expect(error.code).toBe('TB_RUNTIME_ARGS_TOO_LONG');
    expect(error.details).toMatchObject({ limit: 'MAX_ARG_STRLEN', argument: 3 });
  });

  it('names the variable longer than MAX_ARG_STRLEN', () => {
    const error = argumentsTooLong(['/bin/true'], [`BIG=${'x'.repeat(MAX_ARG_STRLEN)}`]);
    expect(error.code).toBe('TB_RUNTIME_ARGS_TOO_LONG');
    expect(error.details).toMatchObject({ limit: 'MAX_ARG_STRLEN', variable: 'BIG' });
  });

  it('otherwise reports the total against ARG_MAX, with the sizes in details', () => {
    const env = Array.from(
      { length: 30 },
      (_, index) => `V${String(index)}=${'x'.repeat(100_000)}`,
    );
    const error = argumentsTooLong(['/bin/true'], env);
    expect(error.code).toBe('TB_RUNTIME_ARGS_TOO_LONG');
    expect(error.details).toMatchObject({ limit: 'ARG_MAX', args: 1, variables: 30 });
    expect(error.details?.['bytes']).toBeGreaterThan(3_000_000);
  });
});
