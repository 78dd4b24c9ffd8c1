import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { decodeRegistryAuth } from './registry-auth-header.js';

const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('decodeRegistryAuth', () => {
  it('reads username and password (base64url, as docker sends it)', () => {
    expect(
      decodeRegistryAuth(
        encode({ username: 'ci', password: 'p?>s', serveraddress: '127.0.0.1:5000' }),
      ),
    ).toEqual({ username: 'ci', password: 'p?>s' });
  });

  it('accepts standard base64 and the `auth` field of config.json', () => {
    const header = Buffer.from(
      JSON.stringify({ auth: Buffer.from('ci:secret').toString('base64') }),
    ).toString('base64');
    expect(decodeRegistryAuth(header)).toEqual({ username: 'ci', password: 'secret' });
  });

  it('reads tokens', () => {
    expect(decodeRegistryAuth(encode({ identitytoken: 'refresh' }))).toEqual({
      identityToken: 'refresh',
    });
    expect(decodeRegistryAuth(encode({ registrytoken: 'bearer' }))).toEqual({
      registryToken: 'bearer',
    });
  });

  it('is undefined without credentials: no header, {} or empty fields', () => {
    expect(decodeRegistryAuth(undefined)).toBeUndefined();
    expect(decodeRegistryAuth('')).toBeUndefined();
    expect(decodeRegistryAuth(encode({}))).toBeUndefined();
    expect(
      decodeRegistryAuth(encode({ username: '', password: '', serveraddress: 'reg' })),
    ).toBeUndefined();
  });

  it('refuses what is not base64 JSON of an object', () => {
    for (const header of ['%%%', encode('text'), encode([1])]) {
      let code: string | undefined;
      try {
        decodeRegistryAuth(header);
      } catch (error) {
        code = isTbuildError(error) ? error.code : 'other';
      }
      expect(code).toBe('TB_SERVICE_REQUEST');
    }
  });
});
