import type { SourceLocation, TbuildError } from './errors.js';

/**
 * Renders an error for a person: the message, a code frame of the Dockerfile
 * lines it points at, and the hint. Used by the CLI and by the service's logs.
 */
export function formatError(error: TbuildError): string {
  const parts = [`ERROR: ${error.message}`];
  if (error.source !== undefined) parts.push(formatCodeFrame(error.source));
  if (error.hint !== undefined) parts.push(`hint: ${error.hint}`);
  return parts.join('\n');
}

export function formatCodeFrame(source: SourceLocation): string {
  const width = String(source.endLine).length;
  const rule = '-'.repeat(20);
  const body = source.lines.map((text, index) => {
    const lineNumber = String(source.startLine + index).padStart(width);
    return ` ${lineNumber} | >>> ${text}`;
  });
  return [`${source.file}:${String(source.startLine)}`, rule, ...body, rule].join('\n');
}
