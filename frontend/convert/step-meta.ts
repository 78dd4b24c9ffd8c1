import { sha256Digest } from '../../core/index.js';
import type { StepMeta, VertexMeta } from '../../solver/ir/index.js';
import type { Heredoc } from '../dockerfile/index.js';
import type { StageState } from './state.js';

/** `$NAME` and `${NAME…}`: the variables an instruction's words may expand. */
const REFERENCE = /\$\{?([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * `meta` with the step's identity and what its definition depends on, kept
 * with its result to say later why its key changed (solver/explain/). The
 * identity is the stage (its name, else its index) and the step's number in
 * it, so an edit elsewhere in the Dockerfile keeps it. `vars`: for a RUN,
 * every variable its environment holds; for other steps, those its
 * instruction names (`all: false`). Values enter only as digests.
 */
export function withStep(
  meta: VertexMeta,
  state: StageState,
  instruction: string,
  variables: { readonly all: boolean; readonly globalArgs?: ReadonlyMap<string, string> },
): VertexMeta {
  const step: StepMeta = {
    id: `${stageId(state)} step ${String(state.cmdIndex)}`,
    instruction,
    vars: stepVars(state, instruction, variables),
  };
  return { ...meta, step };
}

/** An instruction as written, with its here-documents (they are part of what it does). */
export function writtenWithHeredocs(original: string, heredocs: readonly Heredoc[]): string {
  return original + heredocs.map((doc) => `\n${doc.content}${doc.name}`).join('');
}

function stageId(state: StageState): string {
  if (state.fileIndex === undefined) return `image ${state.baseName}`;
  return state.alias === undefined
    ? `stage ${String(state.fileIndex)}`
    : `stage ${state.alias.toLowerCase()}`;
}

function stepVars(
  state: StageState,
  instruction: string,
  variables: { readonly all: boolean; readonly globalArgs?: ReadonlyMap<string, string> },
): Record<string, string> {
  const named = new Set([...instruction.matchAll(REFERENCE)].map((match) => match[1] ?? ''));
  const vars: Record<string, string> = {};
  // FROM sees only the global args (ARG before the first FROM).
  if (variables.globalArgs !== undefined) {
    for (const name of named) {
      const value = variables.globalArgs.get(name);
      if (value !== undefined) vars[`ARG ${name}`] = sha256Digest(value);
    }
    return vars;
  }
  const args = new Set(state.buildArgs.map((arg) => arg.key));
  for (const [name, value] of state.env) {
    if (!variables.all && !named.has(name)) continue;
    vars[`${args.has(name) ? 'ARG' : 'ENV'} ${name}`] = sha256Digest(value);
  }
  return vars;
}
