import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError } from '../../../core/index.js';
import { pathFilter } from '../../fileop/index.js';
import { contextBindSource } from './context-bind.js';

let work: string;
let context: string;
let scratches: number;
const signal = new AbortController().signal;

async function scratch(): Promise<string> {
  scratches += 1;
  return mkdtemp(join(work, 'scratch-'));
}

// .dockerignore: `secret.env`, `drop`, `!drop/important.txt` (matching written out: the
// frontend's matcher is not the worker's to import).
const ignore = pathFilter(
  ['secret.env', 'drop', '!drop/important.txt'],
  (path) =>
    path === 'secret.env' ||
    ((path === 'drop' || path.startsWith('drop/')) && path !== 'drop/important.txt'),
);

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tbuild-context-bind-'));
  context = join(work, 'context');
  scratches = 0;
  await mkdir(join(context, 'drop'), { recursive: true });
  await mkdir(join(context, 'src/lib'), { recursive: true });
  await writeFile(join(context, 'secret.env'), 'TOKEN=1\n');
  await writeFile(join(context, 'drop/important.txt'), 'kept\n');
  await writeFile(join(context, 'drop/other.txt'), 'left out\n');
  await writeFile(join(context, 'src/lib/a.c'), 'a\n');
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('contextBindSource', () => {
  it('shows the context without what .dockerignore leaves out', async () => {
    const { path, copied } = await contextBindSource(context, '/', ignore, scratch, signal);
    expect(copied).toBe(true);
    expect((await readdir(path)).sort()).toEqual(['drop', 'src']);
    expect(await readdir(join(path, 'drop'))).toEqual(['important.txt']);
    expect(await readdir(join(path, 'src/lib'))).toEqual(['a.c']);
  });

  it('binds the context itself when nothing below the mounted path is left out', async () => {
    const { path, copied } = await contextBindSource(context, '/src', ignore, scratch, signal);
    expect({ path, copied }).toEqual({ path: join(context, 'src'), copied: false });
    expect(scratches).toBe(0);
  });

  it('refuses a mounted path that .dockerignore leaves out, naming it', async () => {
    const error = await contextBindSource(context, '/secret.env', ignore, scratch, signal).catch(
      (caught: unknown) => caught,
    );
    expect(isTbuildError(error, 'TB_COPY_SOURCE_NOT_FOUND')).toBe(true);
    expect(String(error)).toContain('/secret.env');
  });
});
