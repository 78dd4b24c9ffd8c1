import { encodeRawText, type TbuildError } from '../core/index.js';
import type { CheckWarning, Outline, TargetList } from '../frontend/index.js';
import type { CallResult, CallSpec } from './call.js';

/** What the CLI prints for a `--call`: standard output, an error block, and the exit code. */
export interface CallOutput {
  readonly stdout: string;
  /** The Dockerfile error a check ran into, printed after `ERROR: ` as buildx does. */
  readonly error?: string;
  readonly exitCode: number;
}

/** Formats a `--call` result as docker buildx prints it (printResult), text or JSON. */
export function formatCallResult(spec: CallSpec, result: CallResult): CallOutput {
  const json = spec.format === 'json';
  switch (result.name) {
    case 'targets':
      return { stdout: json ? goJson(result.list) : targetsText(result.list), exitCode: 0 };
    case 'outline':
      return { stdout: json ? goJson(result.outline) : outlineText(result.outline), exitCode: 0 };
    case 'check': {
      const failed = result.warnings.length > 0 || result.error !== undefined;
      const exitCode = failed && !spec.ignoreStatus ? 1 : 0;
      if (json) return { stdout: goJson(lintResults(result)), exitCode };
      let stdout = '';
      const count = result.warnings.length;
      if (count > 0)
        stdout += `Check complete, ${count === 1 ? '1 warning has been found!' : `${String(count)} warnings have been found!`}\n`;
      for (const warning of sortedByLine(result.warnings)) {
        stdout += `\nWARNING: ${warning.rule} - ${warning.url}\n${warning.message}\n`;
        if (warning.range !== undefined)
          stdout += codeFrame(result.file, result.text, warning.range);
      }
      if (result.error !== undefined) {
        if (count > 0) stdout += '\n';
        return { stdout, error: errorBlock(result.error, result.file, result.text), exitCode: 1 };
      }
      if (count === 0) stdout += 'Check complete, no warnings found.\n';
      return { stdout, exitCode };
    }
  }
}

/** BuildKit sorts by line, rules without a line first (sort.Slice; ties keep their order here). */
function sortedByLine(warnings: readonly CheckWarning[]): CheckWarning[] {
  return [...warnings].sort((a, b) => (a.range?.startLine ?? 0) - (b.range?.startLine ?? 0));
}

function errorBlock(error: TbuildError, file: string, text: string): string {
  const source = error.source;
  const frame =
    source === undefined
      ? ''
      : codeFrame(file, text, { startLine: source.startLine, endLine: source.endLine });
  return `${error.message}\n${frame}`;
}

/**
 * BuildKit's errdefs.Source.Print: `file:line`, a rule, the lines with a few of
 * context each side (`>>>` on the instruction's), a rule.
 */
export function codeFrame(
  file: string,
  text: string,
  range: { readonly startLine: number; readonly endLine: number },
): string {
  const lines = text.split('\n');
  let start = range.startLine;
  let end = Math.max(range.endLine, range.startLine);
  if (start > lines.length || start < 1) return '';
  if (end > lines.length) end = lines.length;
  const pad = end === start ? 4 : 2;
  const first = start;
  for (let p = 0; p < pad; p++) {
    if (start > 1) {
      start--;
      p++;
    }
    if (end !== lines.length) {
      end++;
      p++;
    }
  }
  let out = `${file}:${String(first)}\n--------------------\n`;
  for (let i = start; i <= end; i++) {
    const marker =
      i >= range.startLine && i <= Math.max(range.endLine, range.startLine) ? '>>>' : '   ';
    out += ` ${String(i).padStart(3)} | ${marker} ${(lines[i - 1] ?? '').replace(/\r$/, '')}\n`;
  }
  return `${out}--------------------\n`;
}

/** BuildKit's lint.LintResults as JSON: warnings (null when none, as Go's nil slice), sources, buildError. */
function lintResults(result: CallResult & { name: 'check' }): Record<string, unknown> {
  const location = (range: { startLine: number; endLine: number }) => ({
    ranges: [{ start: { line: range.startLine }, end: { line: range.endLine } }],
  });
  const error = result.error;
  return {
    warnings:
      result.warnings.length === 0
        ? null
        : result.warnings.map((warning) => ({
            ruleName: warning.rule,
            description: warning.description,
            url: warning.url,
            detail: warning.message,
            ...(warning.range === undefined ? {} : { location: location(warning.range) }),
          })),
    sources: [
      {
        filename: result.file,
        data: Buffer.from(encodeRawText(result.text)).toString('base64'),
        language: 'Dockerfile',
      },
    ],
    ...(error === undefined
      ? {}
      : {
          buildError: {
            message: error.message,
            location: error.source === undefined ? {} : location(error.source),
          },
        }),
  };
}

/** Go's json.MarshalIndent with two spaces: `<`, `>`, `&` escaped as Go escapes them. */
export function goJson(value: unknown): string {
  const text = JSON.stringify(value, null, 2).replace(
    /[<>&\u2028\u2029]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `${text}\n`;
}

/** Go's text/tabwriter (minwidth 0, padding N, spaces): tab-ended cells aligned per column. */
export function tabulate(rows: readonly (readonly string[])[], padding: number): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.slice(0, -1).forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, runes(cell) + padding);
    });
  }
  return rows
    .map((row) => {
      const cells = row
        .slice(0, -1)
        .map((cell, column) => cell + ' '.repeat(Math.max(0, (widths[column] ?? 0) - runes(cell))));
      return `${cells.join('')}${row.at(-1) ?? ''}\n`;
    })
    .join('');
}

/** Width in code points, as Go's tabwriter counts runes. */
function runes(text: string): number {
  return Array.from(text).length;
}

function targetsText(list: TargetList): string {
  const rows = list.targets.map((target) => {
    let name = target.name ?? '';
    if (name === '' && target.default === true) name = '(default)';
    else if (target.default === true) name = `${name} (default)`;
    return [name, target.description ?? ''];
  });
  return tabulate([['TARGET', 'DESCRIPTION'], ...rows], 1);
}

function outlineText(outline: Outline): string {
  let out = '';
  if (outline.name !== undefined || outline.description !== undefined) {
    const rows = [['TARGET:', outline.name ?? '(default)']];
    if (outline.description !== undefined) rows.push(['DESCRIPTION:', outline.description]);
    out += `${tabulate(rows, 1)}\n`;
  }
  const args = outline.args ?? [];
  if (args.length > 0) {
    const rows = args.map((arg) => [arg.name, arg.value ?? '', arg.description ?? '']);
    out += `${tabulate([['BUILD ARG', 'VALUE', 'DESCRIPTION'], ...rows], 3)}\n`;
  }
  for (const [title, mounts] of [
    ['SECRET', outline.secrets ?? []],
    ['SSH', outline.ssh ?? []],
  ] as const) {
    if (mounts.length === 0) continue;
    const rows = mounts.map((mount) => [mount.name, mount.required === true ? 'true' : '']);
    out += `${tabulate([[title, 'REQUIRED'], ...rows], 3)}\n`;
  }
  return out;
}
