import type { Instruction, SourceRange } from '../dockerfile/index.js';
import { parseWords, splitCommand } from '../dockerfile/words.js';
import type { Linter } from './linter.js';
import { writtenKeyword } from './parse-rules.js';
import { RULES } from './rules.js';
import { suggestName } from './suggest.js';

/**
 * The checks BuildKit runs while dispatching a stage's instructions: only on the
 * stages a build needs (every stage under `--call=check`), with what the
 * lowering knows at that point (variables, SHELL, the first WORKDIR).
 */

/** What the lowering tells about a stage just before one of its instructions. */
export interface StageView {
  /** The stage's variables (image Env, ENV, ARG values) before the instruction. */
  readonly lookup: (name: string) => string | undefined;
  readonly variableNames: () => readonly string[];
  /** ARGs the stage declared, with or without a value. */
  readonly declaredArgs: () => readonly string[];
  /** The image config has a SHELL: shell-form CMD/ENTRYPOINT then run where it says. */
  readonly hasShell: boolean;
  readonly escape: '\\' | '`';
  /** Expands one word (no splitting), words (EXPOSE) with the stage's variables. */
  readonly expand: (word: string) => string;
  readonly expandList: (text: string) => string[];
}

interface StageTrack {
  workdirSet: boolean;
  readonly used: Map<string, SourceRange>;
}

/** Build args that never become variables, so using them unset is not worth a warning. */
const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);
const ONCE_PER_STAGE = new Set(['CMD', 'ENTRYPOINT', 'HEALTHCHECK']);

const SECRET_WORDS =
  /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const ALLOWED_WORDS = /(?:_|^)(?:public|file|version)(?:_|$)/i;

/** Per-lowering state of the dispatch checks: what each stage has seen so far. */
export class DispatchChecks {
  readonly linter: Linter;
  readonly #stages = new WeakMap<object, StageTrack>();
  /** Context paths .dockerignore excludes; undefined when CopyIgnoredFile cannot judge. */
  readonly #ignored: ((path: string) => boolean) | undefined;

  constructor(linter: Linter, ignored?: (path: string) => boolean) {
    this.linter = linter;
    this.#ignored = ignored;
  }

  /** Starts a stage; a stage built on another inherits whether a WORKDIR was set. */
  startStage(stage: object, base: object | undefined): void {
    const inherited = base === undefined ? false : (this.#stages.get(base)?.workdirSet ?? false);
    this.#stages.set(stage, { workdirSet: inherited, used: new Map() });
  }

  /** Rules about one instruction, before the lowering dispatches it. */
  instruction(
    stage: object,
    view: StageView,
    instruction: Instruction,
    fromContext: boolean,
  ): void {
    const track = this.#track(stage);
    const linter = this.linter;
    const kind = instruction.kind;
    const name = writtenKeyword(instruction);
    if (ONCE_PER_STAGE.has(kind)) {
      // The earlier one is reported: it is the one that has no effect.
      const earlier = track.used.get(kind);
      if (earlier !== undefined) linter.run(RULES.MultipleInstructionsDisallowed, earlier, name);
      track.used.set(kind, instruction.range);
    }
    switch (instruction.kind) {
      case 'CMD':
      case 'ENTRYPOINT':
        if (instruction.command.form === 'shell' && !view.hasShell)
          linter.run(RULES.JSONArgsRecommended, instruction.range, name);
        break;
      case 'ENV':
      case 'LABEL': {
        const rest = splitCommand(instruction.original).rest;
        const first = parseWords(rest, view.escape)[0] ?? '';
        if (!first.includes('=')) linter.run(RULES.LegacyKeyValueFormat, instruction.range, name);
        if (instruction.kind === 'ENV')
          for (const { key } of instruction.variables) this.#secret('ENV', key, instruction.range);
        break;
      }
      case 'ARG':
        for (const { key } of instruction.args) this.#secret('ARG', key, instruction.range);
        break;
      case 'WORKDIR':
        if (!track.workdirSet) {
          let path: string | undefined;
          try {
            path = view.expand(instruction.path);
          } catch {
            path = undefined;
          }
          if (path !== undefined && !path.startsWith('/'))
            linter.run(RULES.WorkdirRelativePath, instruction.range, path);
        }
        track.workdirSet = true;
        break;
      case 'EXPOSE':
        this.#expose(view, instruction.ports, instruction.range);
        break;
      case 'COPY':
      case 'ADD':
        if (fromContext) this.#copySources(view, instruction, kind === 'ADD' ? 'Add' : 'Copy');
        break;
      default:
        break;
    }
  }

  /** UndefinedVar: the names an instruction's expansion looked up and did not find. */
  undefinedVariables(view: StageView, range: SourceRange, unmatched: ReadonlySet<string>): void {
    if (unmatched.size === 0) return;
    const declared = new Set(view.declaredArgs());
    const names = view.variableNames();
    for (const name of unmatched) {
      if (declared.has(name) || NON_ENV_ARGS.has(name)) continue;
      this.linter.run(RULES.UndefinedVar, range, name, suggestName(name, names));
    }
  }

  #track(stage: object): StageTrack {
    let track = this.#stages.get(stage);
    if (track === undefined) {
      track = { workdirSet: false, used: new Map() };
      this.#stages.set(stage, track);
    }
    return track;
  }

  #secret(instruction: 'ARG' | 'ENV', key: string, range: SourceRange): void {
    if (SECRET_WORDS.test(key) && !ALLOWED_WORDS.test(key))
      this.linter.run(RULES.SecretsUsedInArgOrEnv, range, instruction, key);
  }

  #expose(view: StageView, words: readonly string[], range: SourceRange): void {
    let ports: string[];
    try {
      ports = words.flatMap((word) => view.expandList(word));
    } catch {
      return;
    }
    for (const raw of ports) {
      const parts = raw.split(':');
      const container = parts[parts.length - 1] ?? '';
      const hostIp = parts.length >= 3 ? parts.slice(0, -2).join(':') : '';
      const hostPort = parts.length >= 2 ? (parts[parts.length - 2] ?? '') : '';
      const pieces = container.split('/');
      if ((pieces[0] ?? '') === '') continue;
      const proto = pieces.length === 1 || pieces[1] === '' ? 'tcp' : (pieces[1] ?? 'tcp');
      if (proto !== proto.toLowerCase()) this.linter.run(RULES.ExposeProtoCasing, range, raw);
      if (hostIp !== '' || hostPort !== '') this.linter.run(RULES.ExposeInvalidFormat, range, raw);
    }
  }

  #copySources(
    view: StageView,
    instruction: Instruction & { kind: 'COPY' | 'ADD' },
    command: 'Copy' | 'Add',
  ): void {
    const ignored = this.#ignored;
    if (ignored === undefined) return;
    for (const source of instruction.sources) {
      let path: string;
      try {
        path = view.expand(source);
      } catch {
        return;
      }
      if (/^(?:https?:\/\/|git@|git:\/\/)/.test(path)) continue;
      const clean = cleanPath(path);
      if (ignored(clean)) this.linter.run(RULES.CopyIgnoredFile, instruction.range, command, clean);
    }
  }
}

/** Go's path.Clean for a context path; `.` and `/` stay as they are. */
function cleanPath(path: string): string {
  const absolute = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (absolute) return `/${joined}`;
  return joined === '' ? '.' : joined;
}
