import { terminalText } from '../../core/index.js';
import type { ProgressDisplay, TextOutput } from './output.js';
import { PlainDisplay } from './plain.js';
import { RawJsonDisplay } from './rawjson.js';
import { TtyDisplay } from './tty.js';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'rawjson' | 'quiet';
export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'tty', 'plain', 'rawjson', 'quiet'];

/** `auto` is tty on a terminal and plain otherwise, as buildx decides. */
export function createProgressDisplay(
  mode: ProgressMode,
  out: TextOutput & { readonly isTTY?: boolean },
): ProgressDisplay {
  switch (mode) {
    case 'auto':
      return out.isTTY === true ? new TtyDisplay(out) : new PlainDisplay(out);
    case 'tty':
      return new TtyDisplay(out);
    case 'plain':
      return new PlainDisplay(out);
    case 'rawjson':
      return new RawJsonDisplay(out);
    case 'quiet':
      // Steps stay silent; warnings (e.g. that nothing was exported) still reach the user.
      return {
        sink: (event) => {
          // Build-check warnings are not listed in quiet mode, as buildx's.
          if (event.type === 'warning' && event.check === undefined)
            out.write(`WARNING: ${terminalText(event.message)}\n`);
        },
        finish: () => undefined,
      };
  }
}

export type { ProgressDisplay, TextOutput } from './output.js';
export { PlainDisplay } from './plain.js';
export { RawJsonDisplay } from './rawjson.js';
export { renderTty, TtyDisplay } from './tty.js';
