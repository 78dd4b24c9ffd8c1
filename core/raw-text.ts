import { isUtf8 } from 'node:buffer';

/**
 * Text read from bytes that need not be UTF-8 (a Dockerfile, a file name),
 * kept losslessly in a JS string, as Python's "surrogateescape" does: valid
 * UTF-8 decodes as usual, and each byte that is not part of a valid sequence
 * becomes the lone surrogate U+DC80–U+DCFF (0x80–0xFF; bytes below 0x80 are
 * always valid). Valid UTF-8 never decodes to a lone surrogate, so the mapping
 * is one-to-one and encodeRawText gives the original bytes back.
 *
 * Why: BuildKit keeps a Dockerfile's bytes in Go strings, so a RUN's shell-form
 * command reaches /bin/sh byte for byte; decoding as plain UTF-8 would turn
 * each stray byte into U+FFFD for good. Strings carrying such bytes are ordinary
 * strings to every other consumer: only the sandbox config writes them back as
 * bytes (runtime/sandbox-config.ts); JSON meant for other tools (the image
 * config) goes through wellFormedText, as Go's encoding/json makes them U+FFFD.
 */
export function decodeRawText(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return buffer.toString('utf8');
  let text = '';
  let start = 0; // the first byte of the run of valid UTF-8 not yet decoded
  let at = 0;
  while (at < buffer.length) {
    const length = validSequenceLength(buffer, at);
    if (length > 0) {
      at += length;
      continue;
    }
    text += buffer.toString('utf8', start, at) + String.fromCharCode(0xdc00 + (buffer[at] ?? 0));
    at += 1;
    start = at;
  }
  return text + buffer.toString('utf8', start, at);
}

/** The bytes decodeRawText was given: lone U+DC80–U+DCFF as single bytes, the rest as UTF-8. */
export function encodeRawText(text: string): Buffer {
  if (!/[\uDC80-\uDCFF]/.test(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  // Lone trailing surrogates only: in a valid pair, the \uDCxx is part of a code point.
  const escaped = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g;
  for (let match = escaped.exec(text); match !== null; match = escaped.exec(text)) {
    parts.push(Buffer.from(text.slice(start, match.index), 'utf8'));
    parts.push(Buffer.of(text.charCodeAt(match.index) - 0xdc00));
    start = match.index + 1;
  }
  parts.push(Buffer.from(text.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** `text` with every lone surrogate (a byte decodeRawText kept) as U+FFFD, as Go's JSON encoder writes it. */
export function wellFormedText(text: string): string {
  // In a `u` regexp a valid pair is one code point, so \p{Cs} matches only lone surrogates.
  return text.replace(/\p{Cs}/gu, '\uFFFD');
}

/**
 * The length of the valid UTF-8 sequence at `at` (Unicode's table 3-7: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0 when the byte
 * there does not start one.
 */
function validSequenceLength(bytes: Buffer, at: number): number {
  const first = bytes[at] ?? 0;
  if (first < 0x80) return 1;
  const continuation = (offset: number, low = 0x80, high = 0xbf): boolean => {
    const byte = bytes[at + offset];
    return byte !== undefined && byte >= low && byte <= high;
  };
  if (first >= 0xc2 && first <= 0xdf) return continuation(1) ? 2 : 0;
  if (first >= 0xe0 && first <= 0xef) {
    const low = first === 0xe0 ? 0xa0 : 0x80;
    const high = first === 0xed ? 0x9f : 0xbf;
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (first >= 0xf0 && first <= 0xf4) {
    const low = first === 0xf0 ? 0x90 : 0x80;
    const high = first === 0xf4 ? 0x8f : 0xbf;
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}
