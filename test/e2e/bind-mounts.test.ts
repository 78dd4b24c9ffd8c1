import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires, runTbuild, useBuildRoot } from '../harness/index.js';

/**
 * RUN --mount=type=bind: what the step may see and change. As BuildKit: the
 * source's symlinks resolve inside the context or stage (never on the host),
 * and `rw` lets the step write while the source stays as it was.
 */
let root = '';
let work = '';

useBuildRoot('tbuild-bind-', (dirs) => {
  ({ root, work } = dirs);
});

function build(name: string, dockerfile: string, files: Record<string, string> = {}): string {
  const context = join(work, name);
  mkdirSync(context, { recursive: true });
  writeFileSync(join(context, 'Dockerfile'), dockerfile);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(context, path, '..'), { recursive: true });
    writeFileSync(join(context, path), content);
  }
  const out = join(work, `${name}-out`);
  const result = runTbuild(['build', '--progress=plain', '-o', `type=local,dest=${out}`, context], {
    root,
  });
  expect(result.code, result.stderr).toBe(0);
  return out;
}

describe('RUN --mount=type=bind', () => {
  it('lets an rw mount be written and leaves its stage, its context and later steps unchanged', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const out = build(
      'rw',
      [
        // One layer (FROM scratch): the read view is the snapshot directory itself.
        'FROM scratch AS single',
        'COPY data /data',
        'FROM busybox AS layered',
        'RUN mkdir /data && echo original > /data/f',
        'FROM busybox',
        'RUN --mount=type=bind,from=single,source=/data,target=/m,rw echo changed > /m/f && echo new > /m/new && cat /m/f > /seen-single',
        'RUN --mount=type=bind,from=layered,source=/data,target=/m,rw echo changed > /m/f && cat /m/f > /seen-layered',
        'RUN --mount=type=bind,target=/ctx,rw echo changed > /ctx/data/f && cat /ctx/data/f > /seen-context',
        'COPY --from=single /data /after-single',
        'COPY --from=layered /data /after-layered',
        '',
      ].join('\n'),
      { 'data/f': 'original\n' },
    );
    for (const seen of ['seen-single', 'seen-layered', 'seen-context'])
      expect(readFileSync(join(out, seen), 'utf8'), seen).toBe('changed\n');
    expect(readFileSync(join(out, 'after-single/f'), 'utf8')).toBe('original\n');
    expect(readdirSync(join(out, 'after-single'))).toEqual(['f']);
    expect(readFileSync(join(out, 'after-layered/f'), 'utf8')).toBe('original\n');
    expect(readFileSync(join(work, 'rw/data/f'), 'utf8')).toBe('original\n');
  });

  it('resolves a context symlink inside the context, never on the host', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const context = join(work, 'escape');
    mkdirSync(join(context, 'etc'), { recursive: true });
    writeFileSync(join(context, 'etc/hostname'), 'from the context\n');
    symlinkSync('/etc', join(context, 'hostetc'));
    const out = build(
      'escape',
      'FROM busybox\nRUN --mount=type=bind,source=hostetc,target=/m cat /m/hostname > /seen\n',
    );
    expect(readFileSync(join(out, 'seen'), 'utf8')).toBe('from the context\n');
  });
});
