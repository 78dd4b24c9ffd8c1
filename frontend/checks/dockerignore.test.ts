import { describe, expect, it } from 'vitest';
import { ignoredByDockerignore } from './dockerignore.js';

describe('CopyIgnoredFile matching', () => {
  it('matches a path or its parent, as patternmatcher', () => {
    const ignored = ignoredByDockerignore(['secrets', '*.log']);
    expect(ignored?.('secrets/key.pem')).toBe(true);
    expect(ignored?.('app.log')).toBe(true);
    expect(ignored?.('src/main.c')).toBe(false);
  });

  it('judges the context root only when a pattern leaves out everything', () => {
    expect(ignoredByDockerignore(['*'])?.('.')).toBe(true);
    expect(ignoredByDockerignore(['node_modules'])?.('.')).toBe(false);
  });

  it('does not judge at all with exclusions or without patterns, as BuildKit', () => {
    expect(ignoredByDockerignore(['secrets', '!secrets/public'])).toBeUndefined();
    expect(ignoredByDockerignore([])).toBeUndefined();
  });
});
