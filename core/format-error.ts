import type { SourceLocation, TbuildError } from './errors.js';
import { terminalText } from './terminal-text.js';

/**
 * Renders an error for a person: the message, a code frame of the Dockerfile
 * lines it points at, and the hint. Used by the CLI and by the service's logs.
 * Every line is cut and its control characters shown (terminalText): messages
 * quote Dockerfile text and step output, which may hold escapes or megabytes.
 */
export function formatError(error: TbuildError): string {
  const parts = [terminalText(`ERROR: ${error.message}`)];
  if (error.source !== undefined) parts.push(formatCodeFrame(error.source));
  if (error.hint !== undefined) parts.push(terminalText(`hint: ${error.hint}`));
  return parts.join('\n');
}

export function formatCodeFrame(source: SourceLocation): string {
  const width = String(source.endLine).length;
  const rule = '-'.repeat(20);
  const body = source.lines.map((text, index) => {
    const lineNumber = String(source.startLine + index).padStart(width);
    return ` ${lineNumber} | >>> ${text}`;
  });
  return terminalText(
    [`${source.file}:${String(source.startLine)}`, rule, ...body, rule].join('\n'),
  );
}
