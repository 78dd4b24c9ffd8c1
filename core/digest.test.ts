import { describe, expect, it } from 'vitest';
import { digestHex, isDigest, parseDigest, sha256Digest } from './digest.js';
import { isTbuildError } from './errors.js';

describe('digest', () => {
  it('hashes with sha256 in the OCI form', () => {
    expect(sha256Digest('')).toBe(
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(digestHex(sha256Digest(''))).toHaveLength(64);
  });

  it.each([
    'sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855',
    'sha256:abc',
    'sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  ])('refuses %s', (value) => {
    expect(isDigest(value)).toBe(false);
    let thrown: unknown;
    try {
      parseDigest(value);
    } catch (error) {
      thrown = error;
    }
    expect(isTbuildError(thrown, 'TB_INVALID_DIGEST')).toBe(true);
  });
});
