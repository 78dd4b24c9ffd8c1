import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { DEFAULT_SUBNET, formatSubnet, overlaps, parseSubnet } from './subnet.js';

describe('build subnet', () => {
  it('parses a.b.c.d/len, clearing host bits', () => {
    expect(parseSubnet('10.213.0.0/16')).toEqual({ base: 0x0ad50000, prefix: 16 });
    expect(formatSubnet(parseSubnet('192.168.7.9/24'))).toBe('192.168.7.0/24');
    expect(formatSubnet(parseSubnet(DEFAULT_SUBNET))).toBe(DEFAULT_SUBNET);
  });

  it.each(['10.213.0.0', '10.213.0.0/31', '10.213.0.0/7', '256.1.1.1/16', 'a.b.c.d/16'])(
    'refuses %s with TB_RUNTIME_NETWORK',
    (text) => {
      let caught: unknown;
      try {
        parseSubnet(text);
      } catch (error) {
        caught = error;
      }
      expect(isTbuildError(caught) && caught.code).toBe('TB_RUNTIME_NETWORK');
    },
  );

  it('overlaps when one contains the other', () => {
    const build = parseSubnet('10.213.0.0/16');
    expect(overlaps(build, parseSubnet('10.0.0.0/8'))).toBe(true);
    expect(overlaps(build, parseSubnet('10.213.40.0/24'))).toBe(true);
    expect(overlaps(build, parseSubnet('10.214.0.0/16'))).toBe(false);
    expect(overlaps(build, parseSubnet('172.17.0.0/16'))).toBe(false);
  });
});
