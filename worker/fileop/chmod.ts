import { TbuildError } from '../../core/index.js';

/**
 * `--chmod` values: octal (`755`, `0644`) or symbolic as chmod(1) and BuildKit
 * read them (`u+x`, `go-w`, `a=rX`, `u=rwx,g=rx,o=`, comma-separated clauses;
 * `X` adds execute only to directories and files already executable by someone).
 */
export type ModeSpec =
  | { readonly kind: 'octal'; readonly mode: number }
  | { readonly kind: 'symbolic'; readonly clauses: readonly Clause[] };

interface Clause {
  readonly who: number; // mask of permission bits the clause touches
  readonly op: '+' | '-' | '=';
  readonly perms: string;
}

const WHO_MASKS: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 };

export function parseModeSpec(text: string): ModeSpec {
  if (/^[0-7]{1,4}$/.test(text)) return { kind: 'octal', mode: parseInt(text, 8) };
  const clauses = text.split(',').map((clause) => {
    const match = /^([ugoa]*)([+=-])([rwxXst]*)$/.exec(clause);
    if (match === null) {
      throw new TbuildError(
        'TB_DOCKERFILE_FLAG_VALUE',
        `invalid --chmod value "${text}": "${clause}" is neither octal nor a chmod clause`,
        {
          hint: 'use octal (755) or symbolic clauses (u+x,go-w)',
        },
      );
    }
    const letters = match[1] === '' || match[1] === undefined ? 'a' : match[1];
    const who = Array.from(
      letters.matchAll(/[ugoa]/g),
      ([letter]) => WHO_MASKS[letter] ?? 0,
    ).reduce((mask, bits) => mask | bits, 0);
    return { who, op: match[2] as Clause['op'], perms: match[3] ?? '' };
  });
  return { kind: 'symbolic', clauses };
}

/** The new permission bits (0o7777) of an entry with `current` bits. */
export function applyModeSpec(spec: ModeSpec, current: number, isDirectory: boolean): number {
  if (spec.kind === 'octal') return spec.mode;
  let mode = current & 0o7777;
  for (const clause of spec.clauses) {
    const anyExecute = (mode & 0o111) !== 0 || isDirectory;
    let bits = 0;
    for (const perm of clause.perms) {
      if (perm === 'r') bits |= 0o444;
      else if (perm === 'w') bits |= 0o222;
      else if (perm === 'x' || (perm === 'X' && anyExecute)) bits |= 0o111;
      else if (perm === 's') bits |= 0o6000;
      else if (perm === 't') bits |= 0o1000;
    }
    bits &= clause.who;
    if (clause.op === '+') mode |= bits;
    else if (clause.op === '-') mode &= ~bits;
    else mode = (mode & ~clause.who) | bits;
  }
  return mode;
}
