import { describe, expect, it } from 'vitest';
import { resolvConf } from './etc-files.js';

const HOST = 'search example.internal\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n';

describe('resolv.conf for a step', () => {
  it('is the host file as it is on the host network', () => {
    expect(resolvConf(HOST, 'host')).toBe(HOST);
    expect(resolvConf('nameserver 127.0.0.1', 'host')).toBe('nameserver 127.0.0.1\n');
  });

  it.each(['default', 'none'] as const)(
    'drops loopback nameservers on the %s network, keeping the rest',
    (network) => {
      expect(resolvConf(HOST, network)).toBe(
        'search example.internal\nnameserver 10.0.0.2\noptions edns0\n',
      );
    },
  );

  it("uses systemd-resolved's upstream servers when only its stub is named, else Google's", () => {
    const stub = 'nameserver 127.0.0.53\noptions edns0 trust-ad\n';
    const upstream =
      '# generated\nnameserver 192.0.2.53\nnameserver ::1\nnameserver 2001:db8::53\n';
    expect(resolvConf(stub, 'default', upstream)).toBe(
      'options edns0 trust-ad\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n',
    );
    expect(resolvConf(stub, 'default')).toBe(
      'options edns0 trust-ad\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n',
    );
  });
});
