import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../core/index.js';
import { MAX_OVERLAY_OPTIONS, relativeOverlay } from './overlay-options.js';

const ids = (count: number): string[] =>
  Array.from({ length: count }, (_, index) => index.toString(36).padStart(6, '0'));

describe('relativeOverlay', () => {
  it('makes a chain relative to the snapshot directory, whatever the root path', () => {
    const snapshots = `/${'r'.repeat(120)}/v1/s`;
    const overlay = relativeOverlay({
      lowerDirs: ['abc123', 'def456'].map((id) => `${snapshots}/${id}`),
      upperDir: `${snapshots}/_active/xyz789/fs`,
      workDir: `${snapshots}/_active/xyz789/work`,
    });
    expect(overlay.cwd).toBe(snapshots);
    expect(overlay.lowerDirs).toEqual(['abc123', 'def456']);
    expect(overlay.options).toBe(
      'lowerdir=abc123:def456,upperdir=_active/xyz789/fs,workdir=_active/xyz789/work,redirect_dir=off,metacopy=off,index=off',
    );
  });

  it("fits overlayfs' 500 layers in a page under a 200-character root", () => {
    const snapshots = `/${'r'.repeat(200)}/v1/s`;
    const overlay = relativeOverlay({
      lowerDirs: ids(500).map((id) => `${snapshots}/${id}`),
      upperDir: `${snapshots}/_active/zzzzzz/fs`,
      workDir: `${snapshots}/_active/zzzzzz/work`,
    });
    expect(overlay.lowerDirs).toHaveLength(500);
    expect(Buffer.byteLength(overlay.options)).toBeLessThanOrEqual(MAX_OVERLAY_OPTIONS);
  });

  it('leaves a read-only union without upperdir and workdir', () => {
    const overlay = relativeOverlay({ lowerDirs: ['/a/s/one', '/a/s/two'] });
    expect(overlay.cwd).toBe('/a/s');
    expect(overlay.upperDir).toBeUndefined();
    expect(overlay.options).toBe('lowerdir=one:two,redirect_dir=off,metacopy=off,index=off');
  });

  it('goes up to the common parent of directories in different places', () => {
    const overlay = relativeOverlay({
      lowerDirs: ['/root/v1/views/x/bind'],
      upperDir: '/root/v1/tmp/t1/u',
      workDir: '/root/v1/tmp/t1/w',
    });
    expect(overlay.cwd).toBe('/root/v1');
    expect(overlay.lowerDirs).toEqual(['views/x/bind']);
    expect(overlay.upperDir).toBe('tmp/t1/u');
  });

  it('refuses options longer than a page with TB_RUNTIME_SPEC, not a truncated mount', () => {
    let caught: unknown;
    try {
      relativeOverlay({ lowerDirs: ids(500).map((id) => `/s/${id}/${'n'.repeat(10)}`) });
    } catch (error) {
      caught = error;
    }
    expect(isTbuildError(caught) && caught.code).toBe('TB_RUNTIME_SPEC');
    expect(isTbuildError(caught) && caught.details?.['layers']).toBe(500);
  });
});
