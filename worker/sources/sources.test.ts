import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { detectCompression, isTarHeader } from './archive-detect.js';
import { cleanName } from './archive-extract.js';
import { parseGitChecksum, parseHttpChecksum } from './checksum.js';
import { parseLsRemote, pickRef } from './git-ref.js';
import { dispositionFileName, downloadFileName, safeFileName } from './http-filename.js';
import { redactCredentialsIn, redactUrl, splitCredentials } from './redact.js';
import { END_OF_ARCHIVE, encodeEntryHeader } from '../layers/index.js';

describe('download file names (BuildKit getFileName + SafeFileName)', () => {
  it('follows explicit → Content-Disposition → URL → "download"', () => {
    expect(downloadFileName('https://h/a/b.tgz', 'x.bin', 'attachment; filename="c"')).toBe(
      'x.bin',
    );
    expect(downloadFileName('https://h/a/b.tgz', undefined, 'attachment; filename="c.zip"')).toBe(
      'c.zip',
    );
    expect(downloadFileName('https://h/a/b.tgz?x=1#f', undefined, null)).toBe('b.tgz');
    expect(downloadFileName('https://h/a/my%20file.txt', undefined, null)).toBe('my file.txt');
    expect(downloadFileName('https://h/dir/', undefined, null)).toBe('dir');
    expect(downloadFileName('https://h/', undefined, null)).toBe('download');
    expect(downloadFileName('https://h', undefined, 'inline')).toBe('download');
  });

  it('never lets a name be a path or a control character', () => {
    expect(safeFileName('a/b/c.txt')).toBe('c.txt');
    expect(safeFileName('  foo.txt  ')).toBe('foo.txt');
    for (const bad of ['', '.', '..', '../', 'a\u0000b', 'a\nb'])
      expect(safeFileName(bad)).toBe('download');
    expect(downloadFileName('https://h/%2e%2e', undefined, null)).toBe('download');
  });

  it('reads Content-Disposition like mime.ParseMediaType', () => {
    expect(dispositionFileName('attachment; filename=plain.txt')).toBe('plain.txt');
    expect(dispositionFileName('attachment; filename="q \\"x\\".txt"')).toBe('q "x".txt');
    expect(dispositionFileName("attachment; filename=a.txt; filename*=UTF-8''%E2%82%AC.txt")).toBe(
      '€.txt',
    );
    expect(dispositionFileName('attachment; filename="dir/"')).toBeUndefined();
    expect(dispositionFileName('attachment')).toBeUndefined();
  });
});

describe('credential redaction', () => {
  it('replaces user-info in URLs and free text', () => {
    expect(redactUrl('https://user:pass@host/x')).toBe('https://xxxxx@host/x');
    expect(redactUrl('https://token@host/x')).toBe('https://xxxxx@host/x');
    expect(redactUrl('https://host/a@b')).toBe('https://host/a@b');
    expect(redactCredentialsIn("fatal: unable to access 'https://u:p@h/r.git/': 401")).toBe(
      "fatal: unable to access 'https://xxxxx@h/r.git/': 401",
    );
    expect(redactCredentialsIn('git@github.com:o/r.git')).toBe('git@github.com:o/r.git');
  });

  it('turns user-info into Basic auth', () => {
    const { url, authorization } = splitCredentials(new URL('https://al%40ce:p%3Ass@h/x'));
    expect(url.href).toBe('https://h/x');
    expect(Buffer.from((authorization ?? '').slice(6), 'base64').toString()).toBe('al@ce:p:ss');
  });
});

describe('checksums', () => {
  it('accepts sha256 digests for URLs and hex commits for git', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parseHttpChecksum(digest.toUpperCase().replace('SHA256', 'sha256'), 'u')).toBe(digest);
    expect(parseGitChecksum('ABCDEF0')).toBe('abcdef0');
    for (const bad of ['sha512:aa', 'a'.repeat(64)]) {
      expect(() => parseHttpChecksum(bad, 'u')).toThrow(/invalid checksum/);
    }
    for (const bad of ['foobar', 'abc', `sha256:${'a'.repeat(64)}`]) {
      let caught: unknown;
      try {
        parseGitChecksum(bad);
      } catch (error) {
        caught = error;
      }
      expect(isTbuildError(caught, 'TB_CHECKSUM_INVALID'), bad).toBe(true);
    }
  });
});

describe('git refs from ls-remote', () => {
  const output = [
    'ref: refs/heads/main\tHEAD',
    '1111111111111111111111111111111111111111\tHEAD',
    '1111111111111111111111111111111111111111\trefs/heads/main',
    '2222222222222222222222222222222222222222\trefs/heads/v1',
    '3333333333333333333333333333333333333333\trefs/tags/v1',
    '4444444444444444444444444444444444444444\trefs/tags/v2',
    '5555555555555555555555555555555555555555\trefs/tags/v2^{}',
    '6666666666666666666666666666666666666666\trefs/pull/7/head',
    '',
  ].join('\n');

  it('finds the default branch and peels annotated tags', () => {
    const { refs, headTarget } = parseLsRemote(output);
    expect(headTarget).toBe('refs/heads/main');
    expect(pickRef(refs, 'v2')).toEqual({
      name: 'refs/tags/v2',
      id: '4444444444444444444444444444444444444444',
      peeled: '5555555555555555555555555555555555555555',
    });
  });

  it('prefers a branch over a tag of the same name, then full and tail names', () => {
    const { refs } = parseLsRemote(output);
    expect(pickRef(refs, 'v1')?.name).toBe('refs/heads/v1');
    expect(pickRef(refs, 'refs/tags/v1')?.name).toBe('refs/tags/v1');
    expect(pickRef(refs, 'pull/7/head')?.name).toBe('refs/pull/7/head');
    expect(pickRef(refs, 'nope')).toBeUndefined();
  });
});

describe('archive detection', () => {
  it('tells compression by magic bytes', () => {
    expect(detectCompression(Buffer.from([0x1f, 0x8b, 0x08, 0]))).toBe('gzip');
    expect(detectCompression(Buffer.from('BZh91AY'))).toBe('bzip2');
    expect(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe('xz');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(Buffer.from('ustar'))).toBe('none');
  });

  it('accepts a real tar header and refuses zeros and text', () => {
    const header = encodeEntryHeader({
      name: 'a',
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 0,
      mtimeNs: 0n,
      linkname: '',
      devmajor: 0,
      devminor: 0,
      xattrs: new Map(),
    });
    expect(isTarHeader(header)).toBe(true);
    expect(isTarHeader(END_OF_ARCHIVE.subarray(0, 512))).toBe(false);
    expect(isTarHeader(Buffer.alloc(512, 'text '))).toBe(false);
    const corrupted = Buffer.from(header);
    corrupted[0] = 0x62;
    expect(isTarHeader(corrupted)).toBe(false);
  });

  it('cleans entry names and refuses climbing ones', () => {
    expect(cleanName('/abs/./x//y/')).toEqual(['abs', 'x', 'y']);
    expect(cleanName('a/b/../c')).toEqual(['a', 'c']);
    expect(cleanName('./')).toEqual([]);
    expect(() => cleanName('../x')).toThrow(/climbs above/);
    expect(() => cleanName('a/../../x')).toThrow(/climbs above/);
  });
});
