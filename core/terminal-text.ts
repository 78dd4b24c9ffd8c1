/**
 * Text from a Dockerfile or a step's output on its way to a person's terminal.
 * A RUN step can print escape sequences (set the window title, clear the
 * screen, rewrite earlier lines, on some terminals answer back) and lines of
 * many megabytes; neither may reach the terminal as they are.
 */

/** The longest line shown in full: a few KB is a whole compiler message, never a 5 MB blob. */
export const LINE_LIMIT_BYTES = 4096;

/**
 * Control characters made visible, as `cat -v` shows them: ESC as `^[`, BEL as
 * `^G`, DEL as `^?`, C1 controls (U+0080–U+009F, which some terminals obey as
 * escapes) as `M-^[`. `\n` and `\t` stay, so line structure is kept. `\r` is
 * shown as `^M` unless `keepCarriageReturn`: it can only return to the start of
 * the current line, and plain progress keeps it (as BuildKit's does) so
 * progress bars in CI logs look as they would in a terminal.
 */
export function showControls(
  text: string,
  options: { readonly keepCarriageReturn?: boolean } = {},
): string {
  const pattern = options.keepCarriageReturn === true ? CONTROLS_BUT_CR : CONTROLS;
  // Most text has no control at all; it is returned as it is, without a copy.
  return text.search(pattern) < 0 ? text : text.replace(pattern, caretNotation);
}

/**
 * The first `maxBytes` bytes of a line (UTF-8, never half a character) and
 * `… (N more bytes)` when it is longer; a shorter line comes back unchanged.
 */
export function cutLine(line: string, maxBytes: number = LINE_LIMIT_BYTES): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no encoding.
  if (line.length * 3 <= maxBytes) return line;
  const bytes = Buffer.from(line, 'utf8');
  if (bytes.length <= maxBytes) return line;
  let end = maxBytes;
  // Back up to the first byte of a character (continuation bytes are 10xxxxxx).
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return `${bytes.toString('utf8', 0, end)}… (${String(bytes.length - end)} more bytes)`;
}

/**
 * Text of any number of lines made safe to print: each line cut at `maxBytes`
 * and its controls made visible (a trailing `\r`, from CRLF text, is dropped).
 */
export function terminalText(
  text: string,
  options: { readonly maxBytes?: number; readonly keepCarriageReturn?: boolean } = {},
): string {
  const maxBytes = options.maxBytes ?? LINE_LIMIT_BYTES;
  return text
    .split('\n')
    .map((line) => showControls(cutLine(line.replace(/\r$/, ''), maxBytes), options))
    .join('\n');
}

// Built from code points so the source holds no raw control characters.
const C0_BUT_TAB_LF_CR = '\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f';
const DEL_AND_C1 = '\\u007f-\\u009f';
const CONTROLS = new RegExp(`[${C0_BUT_TAB_LF_CR}\\u000d${DEL_AND_C1}]`, 'g');
const CONTROLS_BUT_CR = new RegExp(`[${C0_BUT_TAB_LF_CR}${DEL_AND_C1}]`, 'g');

function caretNotation(char: string): string {
  const code = char.charCodeAt(0);
  if (code === 0x7f) return '^?';
  if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
  // C1: cat -v's meta notation, M- and the caret form of the C0 control 0x80 below.
  return `M-^${String.fromCharCode(code - 0x80 + 0x40)}`;
}
