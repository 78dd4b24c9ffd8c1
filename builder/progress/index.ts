import { terminalText } from '../../core/index.js';
import type { ProgressDisplay, TextOutput } from './output.js';
import { PlainDisplay } from './plain.js';
import { RawJsonDisplay } from './rawjson.js';
import { TtyDisplay } from './tty.js';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'rawjson' | 'quiet';
export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'tty', 'plain', 'rawjson', 'quiet'];

/**
 * `auto` is tty on a terminal and plain otherwise, as buildx decides. `explain`
 * (`--explain`) has plain output print every component of a missed step's key.
 */
export function createProgressDisplay(
  mode: ProgressMode,
  out: TextOutput & { readonly isTTY?: boolean },
  options: { readonly explain?: boolean } = {},
): ProgressDisplay {
  switch (mode) {
    case 'auto':
      return out.isTTY === true ? new TtyDisplay(out) : new PlainDisplay(out, Date.now, options);
    case 'tty':
      return new TtyDisplay(out);
    case 'plain':
      return new PlainDisplay(out, Date.now, options);
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
