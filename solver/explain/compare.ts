import type { CacheMissReason, Digest, KeyComponentComparison } from '../../core/index.js';
import { changedPaths } from './files.js';
import type { ExplainedInput, StepExplanation } from './record.js';

/** How many changed paths a `files` reason carries (the count says how many in all). */
export const FILES_LISTED = 20;

/** What the comparison needs to know of the step's inputs in this build, by index. */
export interface InputNow {
  readonly vertex: Digest;
  readonly name: string;
  /** The input ran in this build (so its own line says why). */
  readonly ran: boolean;
  /** The input is a base image (FROM). */
  readonly image: boolean;
}

export interface MissExplanation {
  readonly reasons: CacheMissReason[];
  readonly components: KeyComponentComparison[];
}

/**
 * Why the key of `now` is not the key of `before`, the same step in an earlier
 * build: its definition (instruction, build args and ENV, base image, other
 * settings) or its inputs (a parent step's key, context files). Only first
 * causes: an input that changed is named as a parent, not explained again.
 */
export function explainMiss(
  before: StepExplanation,
  now: StepExplanation,
  inputs: readonly InputNow[],
): MissExplanation {
  const components = compareComponents(before, now, inputs);
  if (before.key === now.key) return { reasons: [{ kind: 'evicted' }], components };
  const reasons: CacheMissReason[] = [];
  if (before.op !== now.op) reasons.push(...definitionReasons(before, now));
  const files: string[] = [];
  let filesChanged = false;
  const count = Math.max(before.inputs.length, now.inputs.length);
  for (let index = 0; index < count; index++) {
    const was = before.inputs[index];
    const is = now.inputs[index];
    if (was === undefined || is === undefined) continue;
    if ('key' in was && 'key' in is && was.key !== is.key) {
      const input = inputs[index];
      if (input === undefined) continue;
      if (input.image && !input.ran) {
        reasons.push(baseImage(was.origin, is.origin));
      } else {
        reasons.push({ kind: 'parent', vertex: input.vertex, name: input.name, ran: input.ran });
      }
    } else if ('content' in was && 'content' in is && was.content !== is.content) {
      filesChanged = true;
      if (was.files !== undefined && is.files !== undefined)
        files.push(...changedPaths(was.files, is.files));
    }
  }
  if (filesChanged) {
    const unique = [...new Set(files)];
    reasons.push({ kind: 'files', paths: unique.slice(0, FILES_LISTED), count: unique.length });
  }
  return { reasons: reasons.length > 0 ? dedupe(reasons) : [{ kind: 'settings' }], components };
}

/** Why the op's own definition differs: what the Dockerfile shows first, else the settings. */
function definitionReasons(before: StepExplanation, now: StepExplanation): CacheMissReason[] {
  const reasons: CacheMissReason[] = [];
  if (before.instruction !== now.instruction)
    reasons.push({ kind: 'instruction', before: before.instruction, after: now.instruction });
  const changed = changedVars(before.vars, now.vars);
  const args = changed.filter((name) => name.startsWith('ARG ')).map((name) => name.slice(4));
  const env = changed.filter((name) => name.startsWith('ENV ')).map((name) => name.slice(4));
  if (args.length > 0) reasons.push({ kind: 'arg', names: args });
  if (env.length > 0) reasons.push({ kind: 'env', names: env });
  if (before.origin !== now.origin) reasons.push(baseImage(before.origin, now.origin));
  if (reasons.length === 0) reasons.push({ kind: 'settings' });
  return reasons;
}

function baseImage(before: string | undefined, after: string | undefined): CacheMissReason {
  return {
    kind: 'base-image',
    ...(before === undefined ? {} : { before }),
    ...(after === undefined ? {} : { after }),
  };
}

function changedVars(
  before: Readonly<Record<string, string>>,
  now: Readonly<Record<string, string>>,
): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(now)]);
  return [...names].filter((name) => before[name] !== now[name]).sort();
}

/** One base-image reason is enough when the FROM's own and an input's say the same. */
function dedupe(reasons: CacheMissReason[]): CacheMissReason[] {
  const seen = new Set<string>();
  return reasons.filter((reason) => {
    const id = JSON.stringify(reason);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Every component side by side, for `--explain` and rawjson. */
function compareComponents(
  before: StepExplanation,
  now: StepExplanation,
  inputs: readonly InputNow[],
): KeyComponentComparison[] {
  const rows: KeyComponentComparison[] = [
    {
      component: 'instruction',
      same: before.instruction === now.instruction,
      before: before.instruction,
      after: now.instruction,
    },
  ];
  const names = new Set([...Object.keys(before.vars), ...Object.keys(now.vars)]);
  for (const name of [...names].sort()) {
    const was = before.vars[name];
    const is = now.vars[name];
    rows.push({
      component: name,
      same: was === is,
      // Digests of values would let a short value be guessed: only whether it was set.
      ...(was === undefined ? { before: 'unset' } : {}),
      ...(is === undefined ? { after: 'unset' } : {}),
    });
  }
  if (before.origin !== undefined || now.origin !== undefined)
    rows.push(row('base image', before.origin, now.origin));
  rows.push(row('settings', before.op, now.op));
  const count = Math.max(before.inputs.length, now.inputs.length);
  for (let index = 0; index < count; index++) {
    const name = inputs[index]?.name;
    const label = `input ${String(index)}${name === undefined ? '' : ` (${name})`}`;
    rows.push(inputRow(label, before.inputs[index], now.inputs[index]));
  }
  return rows;
}

function inputRow(
  label: string,
  was: ExplainedInput | undefined,
  is: ExplainedInput | undefined,
): KeyComponentComparison {
  const was1 = was === undefined ? undefined : 'key' in was ? was.key : was.content;
  const is1 = is === undefined ? undefined : 'key' in is ? is.key : is.content;
  const files = is !== undefined && 'content' in is ? `files of ${label}` : label;
  return row(files, was1, is1);
}

function row(
  component: string,
  before: string | undefined,
  after: string | undefined,
): KeyComponentComparison {
  return {
    component,
    same: before === after,
    ...(before === undefined ? {} : { before }),
    ...(after === undefined ? {} : { after }),
  };
}
