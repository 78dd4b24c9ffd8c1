/**
 * ADD's archive auto-extraction: archives made with GNU tar (plain, gzip, bzip2, xz, zstd)
 * extracted with their owners, modes, links and times; files that are not archives are
 * left alone; malicious archives (tar-slip, symlink and hardlink escapes) never write
 * outside the destination, which a canary directory beside it proves.
 */
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError, neverAborted } from '../../../core/index.js';
import { type TarEntry, unpackArchive } from '../../../worker/index.js';
import { END_OF_ARCHIVE, encodeEntryHeader } from '../../../worker/layers/index.js';
import { requires } from '../../harness/index.js';

const MTIME = Date.UTC(2020, 0, 2, 3, 4, 5) / 1000;

let base: string;
let dest: string;
let outside: string;

beforeEach(() => {
  base = mkdtempSync('/var/tmp/tbuild-unpack-');
  dest = join(base, 'dest');
  outside = join(base, 'outside');
  mkdirSync(dest);
  mkdirSync(outside);
  writeFileSync(join(outside, 'canary'), 'untouched');
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

function expectCanaryUntouched(): void {
  expect(readdirSync(outside)).toEqual(['canary']);
  expect(readFileSync(join(outside, 'canary'), 'utf8')).toBe('untouched');
  expect(statSync(join(outside, 'canary')).nlink).toBe(1);
}

/** A tree with owners, modes, a symlink, a hardlink and a `.wh.` name, tarred by GNU tar. */
function gnuTar(flags: string[], name: string): string {
  const tree = join(base, 'tree');
  mkdirSync(join(tree, 'app/private'), { recursive: true });
  writeFileSync(join(tree, 'app/hello.txt'), 'hello\n');
  writeFileSync(join(tree, 'app/private/key'), 'secret\n');
  writeFileSync(join(tree, 'app/.wh.not-a-whiteout'), 'plain\n');
  execFileSync('chmod', ['0700', join(tree, 'app/private')]);
  execFileSync('chmod', ['4755', join(tree, 'app/hello.txt')]);
  symlinkSync('hello.txt', join(tree, 'app/link'));
  execFileSync('ln', [join(tree, 'app/hello.txt'), join(tree, 'app/hard')]);
  const archive = join(base, name);
  execFileSync('tar', [
    ...flags,
    '-cf',
    archive,
    '--owner=1234',
    '--group=5678',
    '--numeric-owner',
    `--mtime=@${String(MTIME)}`,
    '-C',
    tree,
    'app',
  ]);
  rmSync(tree, { recursive: true });
  return archive;
}

function entry(overrides: Partial<TarEntry> & Pick<TarEntry, 'name' | 'type'>): TarEntry {
  return {
    mode: overrides.type === 'directory' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtimeNs: 0n,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...overrides,
  };
}

/** A tar written entry by entry, so names GNU tar would sanitise can be tested. */
function craftTar(name: string, entries: Array<{ entry: TarEntry; content?: string }>): string {
  const parts: Buffer[] = [];
  for (const { entry: item, content } of entries) {
    const body = Buffer.from(content ?? '');
    parts.push(encodeEntryHeader({ ...item, size: body.length }));
    if (body.length > 0) {
      parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  parts.push(END_OF_ARCHIVE);
  const path = join(base, name);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('unpackArchive', () => {
  const formats: Array<[string, string[]]> = [
    ['tar', []],
    ['tar.gz', ['-z']],
    ['tar.bz2', ['-j']],
    ['tar.xz', ['-J']],
    ['tar.zst', ['--zstd']],
  ];
  for (const [extension, flags] of formats) {
    it(`extracts a ${extension} made by GNU tar with owners, modes, links and times`, async (context) => {
      requires(context, 'root');
      // The name says nothing: detection is by content, as in Docker.
      const archive = gnuTar(flags, `archive-${extension}.bin`);
      expect(await unpackArchive(archive, dest, { signal: neverAborted })).toBe(true);
      const hello = join(dest, 'app/hello.txt');
      expect(readFileSync(hello, 'utf8')).toBe('hello\n');
      const stats = statSync(hello);
      expect([stats.uid, stats.gid]).toEqual([1234, 5678]);
      expect(stats.mode & 0o7777).toBe(0o4755);
      expect(stats.mtimeMs / 1000).toBe(MTIME);
      expect(statSync(join(dest, 'app/private')).mode & 0o7777).toBe(0o700);
      expect(statSync(join(dest, 'app/private')).mtimeMs / 1000).toBe(MTIME);
      expect(readlinkSync(join(dest, 'app/link'))).toBe('hello.txt');
      expect(lstatSync(join(dest, 'app/link')).uid).toBe(1234);
      expect(statSync(join(dest, 'app/hard')).ino).toBe(stats.ino);
      // ADD is not a layer: `.wh.` names are plain files, as Docker 20.10 keeps them.
      expect(readFileSync(join(dest, 'app/.wh.not-a-whiteout'), 'utf8')).toBe('plain\n');
      expectCanaryUntouched();
    });
  }

  it('replaces the owner with --chown when given', async (context) => {
    requires(context, 'root');
    const archive = gnuTar(['-z'], 'a.tgz');
    await unpackArchive(archive, dest, { signal: neverAborted, owner: { uid: 42, gid: 43 } });
    const stats = lstatSync(join(dest, 'app/private/key'));
    expect([stats.uid, stats.gid]).toEqual([42, 43]);
  });

  it('returns false for files that are not archives and writes nothing', async (context) => {
    requires(context, 'root');
    const plain = join(base, 'notes.tar');
    writeFileSync(plain, 'just text, despite the name\n'.repeat(40));
    const gzText = join(base, 'text.gz');
    execFileSync('sh', ['-c', `printf 'plain text\\n' | gzip > '${gzText}'`]);
    const empty = join(base, 'empty.tar');
    writeFileSync(empty, '');
    const zeros = join(base, 'zeros.tar');
    writeFileSync(zeros, Buffer.alloc(1024));
    const symlinkToArchive = join(base, 'link.tgz');
    symlinkSync(gnuTar(['-z'], 'real.tgz'), symlinkToArchive);
    for (const path of [plain, gzText, empty, zeros, symlinkToArchive, dest]) {
      expect(await unpackArchive(path, dest, { signal: neverAborted }), path).toBe(false);
    }
    expect(readdirSync(dest)).toEqual([]);
  });

  it('resolves symlinks already in the destination inside it, as in a chroot', async (context) => {
    requires(context, 'root');
    mkdirSync(join(dest, 'usr/bin'), { recursive: true });
    symlinkSync('usr/bin', join(dest, 'bin'));
    symlinkSync(outside, join(dest, 'hostdir')); // absolute, to the host: must stay inside
    mkdirSync(join(dest, base, 'outside'), { recursive: true });
    writeFileSync(join(dest, 'existing'), 'old');
    const archive = craftTar('into-links.tar', [
      { entry: entry({ name: 'bin/tool', type: 'file' }), content: 'tool' },
      { entry: entry({ name: 'hostdir/pwned', type: 'file' }), content: 'inside' },
      { entry: entry({ name: 'existing', type: 'file' }), content: 'new' },
    ]);
    expect(await unpackArchive(archive, dest, { signal: neverAborted })).toBe(true);
    expect(readFileSync(join(dest, 'usr/bin/tool'), 'utf8')).toBe('tool');
    expect(lstatSync(join(dest, 'bin')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dest, base, 'outside/pwned'), 'utf8')).toBe('inside');
    expect(readFileSync(join(dest, 'existing'), 'utf8')).toBe('new');
    expectCanaryUntouched();
  });

  it('refuses tar-slip names and contains absolute ones', async (context) => {
    requires(context, 'root');
    const slip = craftTar('slip.tar', [
      { entry: entry({ name: 'ok', type: 'file' }), content: 'fine' },
      { entry: entry({ name: '../outside/pwned', type: 'file' }), content: 'pwned' },
    ]);
    const error = await rejection(unpackArchive(slip, dest, { signal: neverAborted }));
    expect(isTbuildError(error, 'TB_ARCHIVE_UNSAFE_PATH')).toBe(true);
    const deep = craftTar('deep.tar', [
      { entry: entry({ name: 'a/b/../../../outside/pwned', type: 'file' }), content: 'pwned' },
    ]);
    expect(
      isTbuildError(
        await rejection(unpackArchive(deep, dest, { signal: neverAborted })),
        'TB_ARCHIVE_UNSAFE_PATH',
      ),
    ).toBe(true);
    const absolute = craftTar('absolute.tar', [
      { entry: entry({ name: `${outside}/pwned`, type: 'file' }), content: 'contained' },
    ]);
    expect(await unpackArchive(absolute, dest, { signal: neverAborted })).toBe(true);
    expect(readFileSync(join(dest, outside, 'pwned'), 'utf8')).toBe('contained');
    expectCanaryUntouched();
  });

  it('never follows a planted symlink out: as a parent, as the last component, or for a hardlink', async (context) => {
    requires(context, 'root');
    const attacks: Array<Array<{ entry: TarEntry; content?: string }>> = [
      // symlink to the host directory, then a file through it
      [
        { entry: entry({ name: 'link', type: 'symlink', linkname: outside }) },
        { entry: entry({ name: 'link/pwned', type: 'file' }), content: 'pwned' },
      ],
      // relative symlink climbing out, then a file through it
      [
        {
          entry: entry({ name: 'up', type: 'symlink', linkname: '../../../../../../..' + outside }),
        },
        { entry: entry({ name: 'up/pwned', type: 'file' }), content: 'pwned' },
      ],
      // symlink to the canary, then a file of the same name (must replace the link)
      [
        { entry: entry({ name: 'evil', type: 'symlink', linkname: join(outside, 'canary') }) },
        { entry: entry({ name: 'evil', type: 'file' }), content: 'pwned' },
      ],
      // hardlink straight out, and through a planted symlink
      [{ entry: entry({ name: 'h', type: 'hardlink', linkname: '../outside/canary' }) }],
      [
        { entry: entry({ name: 'l2', type: 'symlink', linkname: outside }) },
        { entry: entry({ name: 'h2', type: 'hardlink', linkname: 'l2/canary' }) },
      ],
      [{ entry: entry({ name: 'h3', type: 'hardlink', linkname: join(outside, 'canary') }) }],
    ];
    const outcomes: string[] = [];
    for (const [index, entries] of attacks.entries()) {
      const target = join(base, `dest-${String(index)}`);
      mkdirSync(target);
      const archive = craftTar(`attack-${String(index)}.tar`, entries);
      outcomes.push(
        await unpackArchive(archive, target, { signal: neverAborted }).then(
          () => 'extracted',
          (error: unknown) => (isTbuildError(error) ? error.code : String(error)),
        ),
      );
      expectCanaryUntouched();
    }
    // Through a symlink the kernel resolves in-root, where the host path does not exist.
    expect(outcomes).toEqual([
      'TB_ARCHIVE_INVALID',
      'TB_ARCHIVE_INVALID',
      'extracted',
      'TB_ARCHIVE_UNSAFE_PATH',
      'TB_ARCHIVE_INVALID',
      'TB_ARCHIVE_INVALID',
    ]);
    // The planted-then-replaced symlink became a plain file inside the destination.
    expect(readFileSync(join(base, 'dest-2/evil'), 'utf8')).toBe('pwned');
    expect(lstatSync(join(base, 'dest-2/evil')).isFile()).toBe(true);
  });

  it('reports a truncated archive as invalid', async (context) => {
    requires(context, 'root');
    const archive = gnuTar(['-z'], 'whole.tgz');
    const bytes = readFileSync(archive);
    const truncated = join(base, 'truncated.tgz');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const error = await rejection(unpackArchive(truncated, dest, { signal: neverAborted }));
    expect(isTbuildError(error, 'TB_ARCHIVE_INVALID'), String(error)).toBe(true);
  });
});
