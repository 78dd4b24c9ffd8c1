import { describe, expect, it } from 'vitest';
import { decodeRawText, encodeRawText, wellFormedText } from './raw-text.js';

describe('raw text (bytes that need not be UTF-8, kept in a string)', () => {
  it('decodes valid UTF-8 as usual', () => {
    const text = 'RUN echo café 🐳 💀\n';
    expect(decodeRawText(Buffer.from(text))).toBe(text);
  });

  it('keeps each stray byte as a lone surrogate and gives the bytes back', () => {
    const cases = [
      [0x41, 0xff, 0x42],
      [0xc3], // a sequence cut at the end
      [0xe2, 0x82, 0x41], // cut in the middle
      [0xc0, 0xaf], // overlong '/'
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xf0, 0x9f, 0x92, 0x80, 0x80], // 💀 (its low half is U+DC80) then a stray 0x80
      [0x80, 0x80, 0xfe, 0x0a],
    ];
    for (const bytes of cases) {
      const text = decodeRawText(Uint8Array.from(bytes));
      expect([...encodeRawText(text)]).toEqual(bytes);
    }
    expect(decodeRawText(Uint8Array.from([0x41, 0xff, 0x42]))).toBe('A\udcffB');
  });

  it('round-trips every byte pair', () => {
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b += 3) {
        const bytes = [a, b, 0xe2, 0x82, 0xac, a];
        expect([...encodeRawText(decodeRawText(Uint8Array.from(bytes)))]).toEqual(bytes);
      }
    }
  });

  it('shows kept bytes as U+FFFD where the text must be well formed (JSON for other tools)', () => {
    expect(wellFormedText('A\udcffB 💀')).toBe('A\ufffdB 💀');
  });
});
