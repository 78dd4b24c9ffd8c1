import { terminalText } from '../../core/index.js';

const YELLOW = '\x1b[33m';
const RESET = '\x1b[0m';

/**
 * The build-check warnings after a build, as buildx prints them (printWarnings):
 * a blank line (unless the output ends with one), ` N warnings found (use docker --debug to expand):`, then
 * ` - Rule: message (line N)` per warning. Nothing when there are none.
 */
export function checkSummary(
  messages: readonly string[],
  options: { readonly color: boolean; readonly blankLine: boolean },
): string {
  if (messages.length === 0) return '';
  const count =
    messages.length === 1 ? '1 warning found' : `${String(messages.length)} warnings found`;
  const header = `${count} (use docker --debug to expand):\n`;
  const body = messages.map((message) => ` - ${terminalText(message)}\n`).join('');
  const start = options.blankLine ? '\n ' : ' ';
  return `${start}${options.color ? `${YELLOW}${header}${RESET}` : header}${body}`;
}
