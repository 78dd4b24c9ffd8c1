import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../core/index.js';
import { resolveUser, type UserDatabase } from './user.js';

const files = (): UserDatabase => ({
  passwd: [
    'root:x:0:0:root:/root:/bin/sh',
    '# a comment',
    'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
    'bob:x:1001:1001::/home/bob:/bin/sh',
    'alice:x:2000:2000:second entry:/nope:/bin/sh',
  ].join('\n'),
  group: ['root:x:0:', 'alice:x:1000:', 'staff:x:50:alice,bob', 'audio:x:29:alice'].join('\n'),
});
const noFiles = (): UserDatabase => {
  throw new Error('numeric uid:gid must not read files');
};

describe('resolveUser', () => {
  it('defaults to root', () => {
    expect(resolveUser(undefined, noFiles)).toEqual({
      uid: 0,
      gid: 0,
      additionalGids: [0],
      home: '/root',
    });
    expect(resolveUser('', noFiles).uid).toBe(0);
  });

  it('takes numeric uid:gid without reading files', () => {
    expect(resolveUser('12:34', noFiles)).toEqual({
      uid: 12,
      gid: 34,
      additionalGids: [34],
      home: '/',
    });
  });

  it('resolves a name with its supplementary groups (first passwd match wins)', () => {
    expect(resolveUser('alice', files)).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [1000, 50, 29],
      home: '/home/alice',
    });
  });

  it('gives an explicit group and no supplementary groups', () => {
    expect(resolveUser('alice:staff', files)).toEqual({
      uid: 1000,
      gid: 50,
      additionalGids: [50],
      home: '/home/alice',
    });
    expect(resolveUser('bob:77', files)).toEqual({
      uid: 1001,
      gid: 77,
      additionalGids: [77],
      home: '/home/bob',
    });
  });

  it('accepts an unknown numeric uid with gid 0', () => {
    expect(resolveUser('4242', files)).toEqual({
      uid: 4242,
      gid: 0,
      additionalGids: [0],
      home: '/',
    });
    expect(resolveUser('1001', files).gid).toBe(1001);
  });

  it('fails for unknown names and groups', () => {
    expect(() => resolveUser('mallory', files)).toThrow(
      expect.objectContaining({ code: 'TB_RUNTIME_USER' }),
    );
    let caught: unknown;
    try {
      resolveUser('alice:wheel', files);
    } catch (error) {
      caught = error;
    }
    expect(isTbuildError(caught, 'TB_RUNTIME_USER')).toBe(true);
  });

  it('treats missing files as empty', () => {
    expect(() => resolveUser('alice', () => ({ passwd: undefined, group: undefined }))).toThrow();
    expect(resolveUser('7', () => ({ passwd: undefined, group: undefined })).uid).toBe(7);
  });
});
