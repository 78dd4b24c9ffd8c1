import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../core/index.js';
import { familiarName, formatReference, parseReference } from './reference.js';

const HEX = 'a'.repeat(64);

describe('parseReference', () => {
  const valid: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
    ['user/app', 'docker.io/user/app:latest'],
    ['ghcr.io/org/team/app:v1.2.3', 'ghcr.io/org/team/app:v1.2.3'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['localhost:5000', 'docker.io/library/localhost:5000'],
    ['localhost', 'docker.io/library/localhost:latest'],
    [`127.0.0.1:5000/a/b@sha256:${HEX}`, `127.0.0.1:5000/a/b@sha256:${HEX}`],
    [`busybox:1@sha256:${HEX}`, `docker.io/library/busybox:1@sha256:${HEX}`],
    ['[::1]:5000/app:tag', '[::1]:5000/app:tag'],
    ['Registry.Example.com/app', 'Registry.Example.com/app:latest'],
    ['a_b__c-d--e/x.y', 'docker.io/a_b__c-d--e/x.y:latest'],
    ['example.com:443/app:_tag-1.x', 'example.com:443/app:_tag-1.x'],
  ];
  it.each(valid)('%s → %s', (input, expected) => {
    expect(formatReference(parseReference(input))).toBe(expected);
  });

  const invalid: [string, RegExp][] = [
    ['', /empty/],
    ['Busybox', /must be lowercase/],
    ['example.com/App', /must be lowercase/],
    ['busybox:', /not a valid tag/],
    ['busybox:.bad', /not a valid tag/],
    [`busybox:${'t'.repeat(129)}`, /not a valid tag/],
    ['busybox@sha256:abc', /not a valid digest/],
    [`busybox@sha512:${'b'.repeat(128)}`, /algorithm "sha512" is not supported/],
    ['a//b', /empty path component/],
    ['a/-b', /not a valid path component/],
    ['a/b_', /not a valid path component/],
    ['exa_mple.com/app', /not a valid registry host/],
    ['example.com:99999/app', /out of range/],
    ['example.com/', /empty/],
    [HEX, /ambiguous with an image id/],
    ['with space', /whitespace|spaces/],
    [`x.io/${'a'.repeat(260)}`, /longer than 255/],
  ];
  it.each(invalid)('rejects %s', (input, why) => {
    let error: unknown;
    try {
      parseReference(input);
    } catch (e) {
      error = e;
    }
    expect(isTbuildError(error, 'TB_REGISTRY_REFERENCE')).toBe(true);
    expect((error as Error).message).toMatch(why);
  });

  it('splits registry, repository, tag and digest', () => {
    expect(parseReference(`localhost:5000/a/b:t@sha256:${HEX}`)).toEqual({
      registry: 'localhost:5000',
      repository: 'a/b',
      tag: 't',
      digest: `sha256:${HEX}`,
    });
    expect(parseReference(`x.io/a@sha256:${HEX}`).tag).toBeUndefined();
  });

  it('has a familiar short form', () => {
    expect(familiarName(parseReference('busybox'))).toBe('busybox:latest');
    expect(familiarName(parseReference('user/app:1'))).toBe('user/app:1');
    expect(familiarName(parseReference('ghcr.io/o/a'))).toBe('ghcr.io/o/a:latest');
  });
});
