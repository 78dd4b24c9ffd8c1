import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveRoot } from './root.js';

describe('resolveRoot', () => {
  it('makes a relative --root or TBUILD_ROOT absolute against the working directory', () => {
    expect(resolveRoot('root', {})).toBe(join(process.cwd(), 'root'));
    expect(resolveRoot(undefined, { TBUILD_ROOT: 'a/b' })).toBe(join(process.cwd(), 'a/b'));
  });

  it('prefers --root to TBUILD_ROOT and keeps absolute paths', () => {
    expect(resolveRoot('/x/root', { TBUILD_ROOT: '/y' })).toBe('/x/root');
    expect(resolveRoot(undefined, { TBUILD_ROOT: '/y/' })).toBe('/y');
  });
});
