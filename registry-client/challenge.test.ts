import { describe, expect, it } from 'vitest';
import { parseChallenges, preferredChallenge } from './challenge.js';
import { parseScope, scopesCover, unionScopes } from './scope.js';

describe('parseChallenges', () => {
  it('keeps commas inside quoted values', () => {
    const [challenge] = parseChallenges(
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"',
    );
    expect(challenge).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example.com/token',
        service: 'registry.example.com',
        scope: 'repository:a/b:pull,push',
      },
    });
  });

  it('splits several challenges in one header and across repeated headers', () => {
    const joined = parseChallenges(
      'Basic realm="r1", Bearer realm="https://t/x",error="insufficient_scope", Negotiate',
    );
    expect(joined.map((c) => c.scheme)).toEqual(['basic', 'bearer', 'negotiate']);
    expect(joined[1]?.params).toEqual({ realm: 'https://t/x', error: 'insufficient_scope' });
    const repeated = parseChallenges(['Basic realm="one"', 'Bearer realm="two"']);
    expect(preferredChallenge(repeated)?.params['realm']).toBe('two');
  });

  it('handles escapes, unquoted tokens, odd spacing and case', () => {
    const [c] = parseChallenges('BEARER  Realm = "a\\"b" , Service=svc ,scope="x y"');
    expect(c).toEqual({ scheme: 'bearer', params: { realm: 'a"b', service: 'svc', scope: 'x y' } });
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges(undefined)).toEqual([]);
  });

  it('parses what docker-registry 2.8 sends for a mount', () => {
    const [c] = parseChallenges(
      'Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:other/repo:pull repository:foo/bar:pull,push",error="insufficient_scope"',
    );
    expect(c?.params['scope']).toBe('repository:other/repo:pull repository:foo/bar:pull,push');
  });
});

describe('scopes', () => {
  it('splits type at the first colon and actions at the last', () => {
    expect(parseScope('repository:localhost:5000/a:push,pull')).toEqual({
      type: 'repository',
      name: 'localhost:5000/a',
      actions: new Set(['push', 'pull']),
    });
    expect(parseScope('nonsense')).toBeUndefined();
  });

  it('unions scope lists per resource with sorted actions', () => {
    expect(
      unionScopes(['repository:a:pull'], ['repository:a:push,pull repository:b:pull']),
    ).toEqual(['repository:a:pull,push', 'repository:b:pull']);
  });

  it('checks coverage as sets', () => {
    expect(scopesCover(['repository:a:push,pull'], ['repository:a:pull'])).toBe(true);
    expect(scopesCover(['repository:a:pull'], ['repository:a:pull,push'])).toBe(false);
    expect(scopesCover(['repository:a:pull'], ['repository:b:pull'])).toBe(false);
  });
});
