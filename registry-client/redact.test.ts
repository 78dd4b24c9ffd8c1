import { describe, expect, it } from 'vitest';
import { parseErrorBody } from './registry-errors.js';
import { redactHeaders, redactUrl, scrubSecrets } from './redact.js';
import { parseRetryAfter } from './retry.js';

describe('redaction', () => {
  it('drops user info and query strings from URLs', () => {
    const shown = redactUrl(
      'https://user:hunter22@r.example:5000/v2/a/blobs/uploads/x?_state=SIGNED&digest=sha256:1',
    );
    expect(shown).toBe('https://r.example:5000/v2/a/blobs/uploads/x?…');
    expect(shown).not.toContain('hunter22');
    expect(shown).not.toContain('SIGNED');
    expect(redactUrl('not a url')).toBe('<invalid url>');
  });

  it('hides Authorization and cookies in headers', () => {
    expect(
      redactHeaders({ Authorization: 'Bearer abc.def.ghi', accept: 'x', cookie: 'a=b' }),
    ).toEqual({
      Authorization: 'Bearer <redacted>',
      accept: 'x',
      cookie: '<redacted>',
    });
    expect(scrubSecrets('token=s3cret!! in body', ['s3cret!!'])).toBe('token=<redacted> in body');
  });
});

describe('registry responses', () => {
  it('parses error bodies defensively', () => {
    expect(
      parseErrorBody(
        Buffer.from('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown","detail":{}}]}'),
      ),
    ).toEqual([{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }]);
    expect(parseErrorBody(Buffer.from('{"message":"toomanyrequests: slow down"}'))).toEqual([
      { code: 'UNKNOWN', message: 'toomanyrequests: slow down' },
    ]);
    expect(parseErrorBody(Buffer.from('404 page not found\n'))).toEqual([
      { code: 'UNKNOWN', message: '404 page not found' },
    ]);
    expect(parseErrorBody(Buffer.alloc(0))).toEqual([]);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
