import { describe, expect, it } from 'vitest';
import { cutLine, LINE_LIMIT_BYTES, showControls, terminalText } from './terminal-text.js';

const ESC = '\u001b';
const BEL = '\u0007';

describe('showControls', () => {
  it('shows escapes, BEL, DEL and C1 controls as cat -v does', () => {
    expect(showControls(`${ESC}]0;pwned${BEL}${ESC}[2J`)).toBe('^[]0;pwned^G^[[2J');
    expect(showControls('a\u0000b\u007fc\u0008')).toBe('a^@b^?c^H');
    expect(showControls('\u009b31m\u0080')).toBe('M-^[31mM-^@');
  });

  it('keeps newlines, tabs and printable Unicode', () => {
    expect(showControls('a\tb\nc é ✓ 日本')).toBe('a\tb\nc é ✓ 日本');
  });

  it('shows \\r as ^M unless asked to keep it', () => {
    expect(showControls('10%\r20%')).toBe('10%^M20%');
    expect(showControls(`10%\r20%${ESC}`, { keepCarriageReturn: true })).toBe('10%\r20%^[');
  });

  it('leaves no raw control character in any of the 256 first code points', () => {
    const all = Array.from({ length: 256 }, (_, code) => String.fromCharCode(code)).join('');
    const shown = showControls(all);
    for (let code = 0; code < 256; code += 1) {
      const raw = String.fromCharCode(code);
      const control = code < 0x20 || (code >= 0x7f && code <= 0x9f);
      if (control && raw !== '\n' && raw !== '\t') expect(shown.includes(raw)).toBe(false);
    }
  });
});

describe('cutLine', () => {
  it('returns short lines unchanged', () => {
    expect(cutLine('hello')).toBe('hello');
    const exact = 'x'.repeat(LINE_LIMIT_BYTES);
    expect(cutLine(exact)).toBe(exact);
  });

  it('cuts a long line and says how many bytes were left out', () => {
    const cut = cutLine('x'.repeat(5 * 1024 * 1024));
    expect(cut).toBe(
      `${'x'.repeat(LINE_LIMIT_BYTES)}… (${String(5 * 1024 * 1024 - LINE_LIMIT_BYTES)} more bytes)`,
    );
  });

  it('never cuts a character in half', () => {
    // 'é' is two bytes: a limit of 5 falls inside the third one.
    expect(cutLine('éééééé', 5)).toBe('éé… (8 more bytes)');
  });
});

describe('terminalText', () => {
  it('cuts each line and shows its controls, keeping line structure', () => {
    const text = `${ESC}[31mred\r\n${'y'.repeat(20)}\nlast`;
    expect(terminalText(text, { maxBytes: 10 })).toBe(
      `^[[31mred\n${'y'.repeat(10)}… (10 more bytes)\nlast`,
    );
  });

  it('cuts before showing controls, so a long escape-filled line stays short', () => {
    const shown = terminalText(ESC.repeat(1_000_000));
    expect(shown.length).toBeLessThan(3 * LINE_LIMIT_BYTES);
    expect(shown.includes(ESC)).toBe(false);
  });
});
