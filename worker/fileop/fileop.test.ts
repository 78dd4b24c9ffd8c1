import {
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  readdir,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { nativeFs } from '../../runtime/index.js';
import type { CopyAction, FileOp } from '../../solver/index.js';
import { applyFileOp, type CopyFilters } from './actions.js';
import { applyModeSpec, parseModeSpec } from './chmod.js';
import { matchComponent } from './wildcard.js';
import { pathFilter } from './path-filter.js';

/** A filter from patterns and the matching they mean (the frontend's matcher is not the worker's to import). */
const filter = (patterns: readonly string[], excludes: (path: string) => boolean) =>
  pathFilter(patterns, excludes);

let work: string;
let context: string;
let dest: string;
let empty: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tbuild-fileop-'));
  context = join(work, 'context');
  dest = join(work, 'dest');
  empty = join(work, 'empty');
  await mkdir(join(context, 'app/lib'), { recursive: true });
  await mkdir(dest);
  await mkdir(empty);
  await writeFile(join(context, 'app/main.c'), 'main\n', { mode: 0o644 });
  await writeFile(join(context, 'app/lib/util.c'), 'util\n');
  await writeFile(join(context, 'a.txt'), 'a\n');
  await writeFile(join(context, 'b.txt'), 'b\n');
  await writeFile(join(context, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function copy(src: string, destPath: string, extra: Partial<CopyAction> = {}): FileOp {
  return {
    kind: 'file',
    base: 0,
    actions: [
      {
        action: 'copy',
        from: 1,
        src,
        dest: destPath,
        followSymlinks: true,
        dirContents: true,
        createDestPath: true,
        allowWildcard: true,
        allowEmptyWildcard: false,
        includePatterns: [],
        excludePatterns: [],
        parents: false,
        unpack: false,
        ...extra,
      },
    ],
  };
}

async function apply(op: FileOp, filters?: CopyFilters): Promise<void> {
  await applyFileOp(op, {
    destRoot: dest,
    inputRoots: [dest, context],
    emptyDir: empty,
    ...(filters === undefined ? {} : { copyFilters: () => filters }),
  });
}

/** Every path under a directory, sorted, directories with a trailing slash. */
async function tree(root: string, prefix = ''): Promise<string[]> {
  const paths: string[] = [];
  for (const name of (await readdir(join(root, prefix))).sort()) {
    const relative = prefix === '' ? name : `${prefix}/${name}`;
    if ((await lstat(join(root, relative))).isDirectory())
      paths.push(`${relative}/`, ...(await tree(root, relative)));
    else paths.push(relative);
  }
  return paths;
}

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isTbuildError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'no error';
}

describe('COPY semantics', () => {
  it('copies the entries of a listing made earlier (the checksum’s) rather than listing again', async () => {
    const listed = nativeFs.scanDirectory(join(context, 'app'));
    await writeFile(join(context, 'app/late.c'), 'added after the checksum\n');
    const asked: string[] = [];
    await applyFileOp(copy('app', '/srv'), {
      destRoot: dest,
      inputRoots: [dest, context],
      emptyDir: empty,
      listings: (path) => {
        asked.push(path);
        return path === join(context, 'app') ? listed : undefined;
      },
    });
    expect(await tree(dest)).toEqual(['srv/', 'srv/lib/', 'srv/lib/util.c', 'srv/main.c']);
    expect(asked).toEqual([join(context, 'app'), join(context, 'app/lib')]);
  });

  it('copies the contents of a directory, not the directory', async () => {
    await apply(copy('app', '/srv'));
    expect(await tree(dest)).toEqual(['srv/', 'srv/lib/', 'srv/lib/util.c', 'srv/main.c']);
  });

  it('treats a destination ending in / as a directory, and one without as a file name', async () => {
    await apply(copy('a.txt', '/dir/'));
    await apply(copy('a.txt', '/renamed'));
    expect(await tree(dest)).toEqual(['dir/', 'dir/a.txt', 'renamed']);
    expect(await readFile(join(dest, 'renamed'), 'utf8')).toBe('a\n');
  });

  it('copies into an existing directory even without a trailing slash', async () => {
    await mkdir(join(dest, 'existing'));
    await apply(copy('a.txt', '/existing'));
    expect(await tree(dest)).toEqual(['existing/', 'existing/a.txt']);
  });

  it('expands wildcards, making the destination a directory', async () => {
    await apply(copy('*.txt', '/out'));
    expect(await tree(dest)).toEqual(['out/', 'out/a.txt', 'out/b.txt']);
  });

  it('reports a missing source by name, and allows an empty wildcard when asked', async () => {
    expect(await failure(apply(copy('missing.c', '/x')))).toMatch(
      /^TB_COPY_SOURCE_NOT_FOUND: "missing.c": not found/,
    );
    expect(await failure(apply(copy('*.go', '/x')))).toMatch(/^TB_COPY_SOURCE_NOT_FOUND/);
    await apply(copy('*.go', '/x', { allowEmptyWildcard: true }));
  });

  it('keeps modes and mtimes, or applies --chmod', async () => {
    const past = new Date('2020-02-02T02:02:02Z');
    await utimes(join(context, 'run.sh'), past, past);
    await apply(copy('run.sh', '/bin/'));
    const copied = await stat(join(dest, 'bin/run.sh'));
    expect(copied.mode & 0o7777).toBe(0o755);
    expect(copied.mtime.getTime()).toBe(past.getTime());
    await apply(copy('app', '/chmodded', { mode: 'go-rwx' }));
    expect((await stat(join(dest, 'chmodded/main.c'))).mode & 0o7777).toBe(0o600);
    expect((await stat(join(dest, 'chmodded/lib'))).mode & 0o7777).toBe(0o700);
  });

  it('keeps parent directories below the /./ pivot with --parents', async () => {
    await apply(copy('app/./lib/util.c', '/p/', { parents: true }));
    await apply(copy('app/main.c', '/q/', { parents: true }));
    expect(await tree(dest)).toEqual([
      'p/',
      'p/lib/',
      'p/lib/util.c',
      'q/',
      'q/app/',
      'q/app/main.c',
    ]);
  });

  it('leaves out paths excluded from the root (.dockerignore) and from the source (--exclude)', async () => {
    await apply(copy('app', '/e'), { excludes: filter(['app/lib'], (path) => path === 'app/lib') });
    await apply(copy('app', '/f'), {
      sourceExcludes: filter(['main.c'], (path) => path === 'main.c'),
    });
    expect(await tree(dest)).toEqual(['e/', 'e/main.c', 'f/', 'f/lib/', 'f/lib/util.c']);
  });

  it('treats a source excluded by .dockerignore as missing', async () => {
    expect(
      await failure(
        apply(copy('a.txt', '/x'), { excludes: filter(['a.txt'], (path) => path === 'a.txt') }),
      ),
    ).toMatch(/^TB_COPY_SOURCE_NOT_FOUND/);
  });

  // .dockerignore `app` then `!app/lib/util.c`: Docker walks into the excluded directory
  // and sends what the exception names, with its parent directories as they are
  // (tonistiigi/fsutil filter.go; the Dockerfile reference's .dockerignore section).
  const appExceptUtil = filter(
    ['app', '!app/lib/util.c'],
    (path) => (path === 'app' || path.startsWith('app/')) && path !== 'app/lib/util.c',
  );

  it('keeps what a later exception names inside an excluded directory, with its parents', async () => {
    await chmod(join(context, 'app'), 0o750);
    await apply(copy('.', '/all/'), { excludes: appExceptUtil });
    await apply(copy('app', '/named/'), { excludes: appExceptUtil });
    expect(await tree(dest)).toEqual([
      'all/',
      'all/a.txt',
      'all/app/',
      'all/app/lib/',
      'all/app/lib/util.c',
      'all/b.txt',
      'all/run.sh',
      'named/',
      'named/lib/',
      'named/lib/util.c',
    ]);
    expect((await stat(join(dest, 'all/app'))).mode & 0o7777).toBe(0o750);
    expect(await failure(apply(copy('app/main.c', '/m'), { excludes: appExceptUtil }))).toMatch(
      /^TB_COPY_SOURCE_NOT_FOUND/,
    );
  });

  it('leaves out an excluded directory when its exception keeps nothing in it', async () => {
    const nothingKept = filter(
      ['app', '!app/none.c'],
      (path) => (path === 'app' || path.startsWith('app/')) && path !== 'app/none.c',
    );
    await apply(copy('.', '/all/'), { excludes: nothingKept });
    expect(await tree(join(dest, 'all'))).toEqual(['a.txt', 'b.txt', 'run.sh']);
    expect(await failure(apply(copy('app', '/x/'), { excludes: nothingKept }))).toMatch(
      /^TB_COPY_SOURCE_NOT_FOUND/,
    );
  });

  it('keeps what a COPY --exclude exception names inside an excluded directory', async () => {
    const libExceptUtil = filter(
      ['lib', '!lib/util.c'],
      (path) => (path === 'lib' || path.startsWith('lib/')) && path !== 'lib/util.c',
    );
    await writeFile(join(context, 'app/lib/other.c'), 'other\n');
    await apply(copy('app', '/srv'), { sourceExcludes: libExceptUtil });
    expect(await tree(dest)).toEqual(['srv/', 'srv/lib/', 'srv/lib/util.c', 'srv/main.c']);
  });

  // moby/buildkit#1941, fsutil copy.Copy: a directory's contents go into a destination
  // made 0755 when missing (its mode and owner kept when it exists); only the source
  // directory's times reach it.
  it('makes the directory receiving a directory’s contents 0755, keeping an existing one’s mode', async () => {
    const past = new Date('2018-08-08T08:08:08Z');
    await chmod(join(context, 'app'), 0o700);
    await utimes(join(context, 'app'), past, past);
    await mkdir(join(dest, 'existing'));
    await chmod(join(dest, 'existing'), 0o1777);
    await apply(copy('app', '/new'));
    await apply(copy('app/', '/existing/'));
    await apply(copy('app', '/octal', { mode: '0750' }));
    await apply(copy('app', '/symbolic', { mode: 'g+w' }));
    const modeOf = async (name: string) => (await stat(join(dest, name))).mode & 0o7777;
    const mtimeOf = async (name: string) => (await stat(join(dest, name))).mtime.getTime();
    expect(await modeOf('new')).toBe(0o755);
    expect(await mtimeOf('new')).toBe(past.getTime());
    expect(await modeOf('existing')).toBe(0o1777);
    expect(await mtimeOf('existing')).toBe(past.getTime());
    expect(await modeOf('octal')).toBe(0o750);
    expect(await modeOf('symbolic')).toBe(0o755);
    // Below the top, directories are copies of the source's, --chmod applied.
    expect((await stat(join(dest, 'new/lib'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(dest, 'symbolic/lib'))).mode & 0o7777).toBe(0o775);
  });

  it('does the same for a source that is a symlink to a directory', async () => {
    await chmod(join(context, 'app'), 0o700);
    await symlink('app', join(context, 'app-link'));
    await apply(copy('app-link', '/via/'));
    expect((await stat(join(dest, 'via'))).mode & 0o7777).toBe(0o755);
    expect(await tree(join(dest, 'via'))).toEqual(['lib/', 'lib/util.c', 'main.c']);
  });

  // BuildKit's COPY --parents copies from the pivot with the path as an include
  // pattern (dockerfile2llb convert_copy.go): a directory keeps its own name, and
  // the kept parents are copies of the source's (fsutil createParentDirs).
  it('keeps a directory itself and its parents’ modes with --parents', async () => {
    await chmod(join(context, 'app'), 0o750);
    await chmod(join(context, 'app/lib'), 0o700);
    await apply(copy('app/lib', '/p/', { parents: true }));
    await apply(copy('app/./lib', '/q/', { parents: true }));
    expect(await tree(dest)).toEqual([
      'p/',
      'p/app/',
      'p/app/lib/',
      'p/app/lib/util.c',
      'q/',
      'q/lib/',
      'q/lib/util.c',
    ]);
    expect((await stat(join(dest, 'p'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(dest, 'p/app'))).mode & 0o7777).toBe(0o750);
    expect((await stat(join(dest, 'p/app/lib'))).mode & 0o7777).toBe(0o700);
    expect((await stat(join(dest, 'q/lib'))).mode & 0o7777).toBe(0o700);
  });

  it('follows symlinks in the destination inside the root only', async () => {
    await symlink('/', join(dest, 'escape'));
    await symlink('../../../..', join(dest, 'up'));
    await apply(copy('a.txt', '/escape/etc/'));
    await apply(copy('b.txt', '/up/tmp/'));
    expect(await tree(dest)).toEqual(['escape', 'etc/', 'etc/a.txt', 'tmp/', 'tmp/b.txt', 'up']);
  });

  it("keeps directories' mtimes though files are written into them after", async () => {
    const past = new Date('2019-09-09T09:09:09Z');
    for (let i = 0; i < 100; i++)
      await writeFile(join(context, `app/lib/f${String(i)}.c`), String(i));
    await utimes(join(context, 'app/lib'), past, past);
    await utimes(join(context, 'app'), past, past);
    await apply(copy('app', '/srv'));
    expect((await stat(join(dest, 'srv'))).mtime.getTime()).toBe(past.getTime());
    expect((await stat(join(dest, 'srv/lib'))).mtime.getTime()).toBe(past.getTime());
    expect(await readFile(join(dest, 'srv/lib/f99.c'), 'utf8')).toBe('99');
    expect((await readdir(join(dest, 'srv/lib'))).length).toBe(101);
  });

  it('refuses a source name that is not valid UTF-8, naming where it is', async () => {
    const bad = Buffer.concat([Buffer.from(join(context, 'app/lib/bad-')), Buffer.from([0xff])]);
    await writeFile(bad, 'x');
    expect(await failure(apply(copy('app', '/srv')))).toMatch(
      /^TB_FILEOP: cannot copy lib\/bad-\uFFFD: its name is not valid UTF-8/,
    );
  });

  it('copies past a name that is not valid UTF-8 when a pattern leaves it out, as its hint says', async () => {
    const bad = Buffer.concat([Buffer.from(join(context, 'app/lib/bad-')), Buffer.from([0xff])]);
    await writeFile(bad, 'x');
    // The matcher sees the name as readdir decodes it: U+FFFD for the bad byte.
    const byPrefix = filter(['app/lib/bad*'], (path) => path.startsWith('app/lib/bad'));
    await apply(copy('app', '/srv'), { excludes: byPrefix });
    expect(await readdir(join(dest, 'srv/lib'))).not.toContain('bad-\uFFFD');
    expect(await readdir(join(dest, 'srv/lib'))).toContain('util.c');
    await expect(apply(copy('app', '/srv2'))).rejects.toMatchObject({
      code: 'TB_FILEOP',
      hint: expect.stringMatching(/\.dockerignore/) as unknown,
    });
  });

  it('lets a later source overwrite what an earlier one wrote', async () => {
    await mkdir(join(context, 'one'));
    await mkdir(join(context, 'two'));
    await writeFile(join(context, 'one/same.txt'), 'first');
    await writeFile(join(context, 'two/same.txt'), 'second');
    await apply(copy('[ot][nw]*', '/out/'));
    expect(await readFile(join(dest, 'out/same.txt'), 'utf8')).toBe('second');
  });

  it('keeps hardlinks and symlinks as they are', async () => {
    await link(join(context, 'app/main.c'), join(context, 'app/main-link.c'));
    await symlink('main.c', join(context, 'app/alias.c'));
    await apply(copy('app', '/h'));
    const [first, second] = await Promise.all([
      stat(join(dest, 'h/main.c')),
      stat(join(dest, 'h/main-link.c')),
    ]);
    expect(second.ino).toBe(first.ino);
    expect(await readlink(join(dest, 'h/alias.c'))).toBe('main.c');
  });
});

describe('other file actions', () => {
  it('makes directories with parents, files, symlinks, and removes by wildcard', async () => {
    await apply({
      kind: 'file',
      base: 0,
      actions: [
        { action: 'mkdir', path: '/w/x/y', mode: 0o750, makeParents: true, timestamp: 1_000_000 },
        { action: 'mkfile', path: '/w/note', mode: 0o600, data: 'hello' },
        { action: 'symlink', linkTarget: 'note', path: '/w/link' },
        { action: 'mkfile', path: '/w/x/1.tmp', mode: 0o644, data: '' },
        { action: 'mkfile', path: '/w/x/2.tmp', mode: 0o644, data: '' },
        { action: 'rm', path: '/w/x/*.tmp', allowNotFound: false, allowWildcard: true },
      ],
    });
    expect(await tree(dest)).toEqual(['w/', 'w/link', 'w/note', 'w/x/', 'w/x/y/']);
    expect((await stat(join(dest, 'w/x/y'))).mode & 0o7777).toBe(0o750);
    expect((await stat(join(dest, 'w/x/y'))).mtime.getTime()).toBe(1_000_000_000);
    expect((await stat(join(dest, 'w/note'))).mode & 0o7777).toBe(0o600);
  });

  it('refuses to make a directory whose parent is missing without makeParents', async () => {
    const op: FileOp = {
      kind: 'file',
      base: 0,
      actions: [{ action: 'mkdir', path: '/no/parent', mode: 0o755, makeParents: false }],
    };
    expect(await failure(apply(op))).toMatch(/^TB_FILEOP: cannot create directory \/no\/parent/);
  });
});

describe('chmod specs', () => {
  it.each([
    ['755', 0o644, false, 0o755],
    ['0640', 0o777, false, 0o640],
    ['u+x', 0o644, false, 0o744],
    ['go-w', 0o666, false, 0o644],
    ['a=rX', 0o644, false, 0o444],
    ['a=rX', 0o700, true, 0o555],
    ['a=rX', 0o744, false, 0o555],
    ['u=rwx,g=rx,o=', 0o644, false, 0o750],
    ['+x', 0o600, false, 0o711],
    ['u+s', 0o755, false, 0o4755],
    ['o+t', 0o777, true, 0o1777],
  ])('%s applied to %o gives the expected bits', (spec, current, isDirectory, expected) => {
    expect(applyModeSpec(parseModeSpec(spec), current, isDirectory)).toBe(expected);
  });

  it('refuses what is neither octal nor symbolic', () => {
    expect(() => parseModeSpec('rwxr-xr-x')).toThrow('invalid --chmod value');
    expect(() => parseModeSpec('888')).toThrow('invalid --chmod value');
  });
});

describe('wildcards', () => {
  it.each([
    ['*.c', 'main.c', true],
    ['*.c', '.c', true],
    ['m?in.c', 'main.c', true],
    ['[a-m]*', 'main.c', true],
    ['[^a-m]*', 'main.c', false],
    ['[!a-m]*', 'zed', true],
    ['\\*', '*', true],
    ['\\*', 'x', false],
    ['a.c', 'abc', false],
  ])('%s matches %s: %s', (pattern, name, expected) => {
    expect(matchComponent(pattern, name)).toBe(expected);
  });
});
