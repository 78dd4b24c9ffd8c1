import { TbuildError } from '../core/index.js';

/**
 * Splits buildx's comma-separated `key=value` option strings (`-o`, `--secret`,
 * `--cache-to`): fields may be double-quoted to contain commas, as Go's
 * encoding/csv reads them.
 */
export function parseCsvOptions(text: string, flag: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const field of splitCsv(text, flag)) {
    if (field === '') continue;
    const equals = field.indexOf('=');
    if (equals < 0) options.set(field.toLowerCase(), '');
    else options.set(field.slice(0, equals).trim().toLowerCase(), field.slice(equals + 1));
  }
  return options;
}

function splitCsv(text: string, flag: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charAt(index);
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        current += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else current += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      fields.push(current);
      current = '';
    } else current += char;
  }
  if (quoted)
    throw new TbuildError('TB_USAGE', `invalid value for ${flag}: unterminated quote in "${text}"`);
  fields.push(current);
  return fields;
}
