import { describe, expect, it } from 'vitest';
import { formatTable, humanDuration, humanSize, parseDuration, parseSize } from './units.js';

describe('docker units', () => {
  it('prints sizes as units.HumanSize', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(1000)).toBe('1kB');
    expect(humanSize(123_456)).toBe('123.5kB');
    expect(humanSize(4_260_000)).toBe('4.26MB');
    expect(humanSize(10 ** 12)).toBe('1TB');
  });

  it('prints durations as units.HumanDuration', () => {
    expect(humanDuration(500)).toBe('Less than a second');
    expect(humanDuration(1000)).toBe('1 second');
    expect(humanDuration(59_000)).toBe('59 seconds');
    expect(humanDuration(90_000)).toBe('About a minute');
    expect(humanDuration(30 * 60_000)).toBe('30 minutes');
    expect(humanDuration(3_600_000)).toBe('About an hour');
    expect(humanDuration(5 * 3_600_000)).toBe('5 hours');
    expect(humanDuration(3 * 86_400_000)).toBe('3 days');
    expect(humanDuration(21 * 86_400_000)).toBe('3 weeks');
    expect(humanDuration(90 * 86_400_000)).toBe('3 months');
    expect(humanDuration(3 * 365 * 86_400_000)).toBe('3 years');
  });

  it('parses sizes as units.RAMInBytes (binary units)', () => {
    expect(parseSize('100', '--x')).toBe(100);
    expect(parseSize('512MB', '--x')).toBe(512 * 1024 ** 2);
    expect(parseSize('10GB', '--x')).toBe(10 * 1024 ** 3);
    expect(parseSize('1.5g', '--x')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('2 KiB', '--x')).toBe(2048);
    expect(() => parseSize('10XB', '--x')).toThrow(/invalid size/);
    expect(() => parseSize('', '--x')).toThrow(/invalid size/);
  });

  it('parses Go durations', () => {
    expect(parseDuration('24h', 'until')).toBe(24 * 3_600_000);
    expect(parseDuration('30m', 'until')).toBe(30 * 60_000);
    expect(parseDuration('1h30m', 'until')).toBe(90 * 60_000);
    expect(parseDuration('1.5h', 'until')).toBe(90 * 60_000);
    expect(parseDuration('250ms', 'until')).toBe(250);
    expect(parseDuration('0', 'until')).toBe(0);
    expect(() => parseDuration('3x', 'until')).toThrow(/invalid duration/);
    expect(() => parseDuration('24', 'until')).toThrow(/invalid duration/);
    expect(() => parseDuration('', 'until')).toThrow(/invalid duration/);
  });

  it('lays out tables as docker tabwriter does', () => {
    expect(
      formatTable([
        ['REPOSITORY', 'TAG'],
        ['busybox', 'latest'],
      ]),
    ).toBe('REPOSITORY   TAG\nbusybox      latest');
  });
});
