import type { StageView } from '../checks/index.js';
import type { StageCommand, StageState } from './state.js';
import { envGet } from './state.js';
import { expandWord, expandWords } from '../shell/index.js';
import type { LowerContext } from './context.js';

/** What the dispatch checks see of a stage just before one of its instructions. */
export function checkView(ctx: LowerContext, state: StageState): StageView {
  const lookup = (name: string): string | undefined => envGet(state.env, name);
  const names = state.env.map(([name]) => name);
  return {
    lookup,
    variableNames: () => names,
    // Read when the instruction is done: an ARG declares names for its own later pairs.
    declaredArgs: () => state.buildArgs.map((arg) => arg.key),
    hasShell: (state.image.config.Shell ?? []).length > 0,
    escape: ctx.escape,
    expand: (word) => expandWord(word, lookup, { escape: ctx.escape }),
    expandList: (text) => expandWords(text, lookup, { escape: ctx.escape }),
  };
}

/** COPY without --from and ADD read the build context (what .dockerignore filters). */
export function readsContext(command: StageCommand): boolean {
  const instruction = command.instruction;
  if (instruction.kind === 'ADD') return true;
  return instruction.kind === 'COPY' && instruction.from === undefined;
}
