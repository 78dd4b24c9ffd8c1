import { closestMatch, TbuildError } from '../core/index.js';

/**
 * A small flag parser with pflag's (docker's) behaviour: `--name value`,
 * `--name=value`, `-n value`, `-nvalue`, `-n=value`, booleans as `--flag`,
 * `--flag=true|false`, repeatable list flags, `--` ending flags, and unknown
 * flags reported with the closest known one.
 */
export interface FlagSpec {
  readonly name: string;
  readonly short?: string;
  readonly type: 'string' | 'boolean' | 'list';
  readonly description: string;
  /** Shown in --help as the value's placeholder, e.g. `PATH`. */
  readonly value?: string;
}

export interface ParsedFlags {
  readonly strings: ReadonlyMap<string, string>;
  readonly booleans: ReadonlyMap<string, boolean>;
  readonly lists: ReadonlyMap<string, readonly string[]>;
  readonly positionals: readonly string[];
}

/** `--root`, which every command that opens the store takes. */
export const ROOT_FLAG: FlagSpec = {
  name: 'root',
  type: 'string',
  value: 'DIR',
  description: 'Storage directory (default $TBUILD_ROOT, else /var/lib/tbuild as root)',
};

export const HELP_FLAG: FlagSpec = {
  name: 'help',
  short: 'h',
  type: 'boolean',
  description: 'Print usage',
};

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const byShort = new Map(
    specs.flatMap((spec) => (spec.short === undefined ? [] : [[spec.short, spec] as const])),
  );
  const strings = new Map<string, string>();
  const booleans = new Map<string, boolean>();
  const lists = new Map<string, string[]>();
  const positionals: string[] = [];

  let index = 0;
  const takeValue = (inline: string | undefined, written: string): string => {
    if (inline !== undefined) return inline;
    const next = argv[index + 1];
    if (next === undefined) throw usage(`flag needs an argument: ${written}`);
    index += 1;
    return next;
  };

  for (; index < argv.length; index++) {
    const arg = argv[index] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    let written: string;
    if (arg.startsWith('--')) {
      const equals = arg.indexOf('=');
      const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
      inline = equals < 0 ? undefined : arg.slice(equals + 1);
      written = `--${name}`;
      spec = byName.get(name);
      if (spec === undefined) {
        const closest = closestMatch(name, byName.keys());
        throw usage(
          `unknown flag: ${written}${closest === undefined ? '' : ` (did you mean --${closest}?)`}`,
        );
      }
    } else {
      const letter = arg.slice(1, 2);
      written = `-${letter}`;
      spec = byShort.get(letter);
      if (spec === undefined) throw usage(`unknown shorthand flag: '${letter}' in ${arg}`);
      const rest = arg.slice(2);
      if (spec.type === 'boolean' && rest !== '' && !rest.startsWith('=')) {
        throw usage(`unknown shorthand flag: '${rest.slice(0, 1)}' in ${arg}`);
      }
      inline = rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest;
    }
    switch (spec.type) {
      case 'boolean':
        booleans.set(spec.name, parseBoolean(inline, written));
        break;
      case 'string':
        strings.set(spec.name, takeValue(inline, written));
        break;
      case 'list': {
        const values = lists.get(spec.name) ?? [];
        values.push(takeValue(inline, written));
        lists.set(spec.name, values);
        break;
      }
    }
  }
  return { strings, booleans, lists, positionals };
}

function parseBoolean(inline: string | undefined, written: string): boolean {
  if (inline === undefined || inline === 'true' || inline === '1') return true;
  if (inline === 'false' || inline === '0') return false;
  throw usage(`invalid argument "${inline}" for "${written}" flag: expected true or false`);
}

export function usage(message: string, hint?: string): TbuildError {
  return new TbuildError('TB_USAGE', message, hint === undefined ? {} : { hint });
}

/** The flag table of a command's --help. */
export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const rows = specs.map((spec) => {
    const short = spec.short === undefined ? '    ' : `-${spec.short}, `;
    const value =
      spec.type === 'boolean'
        ? ''
        : ` ${spec.value ?? (spec.type === 'list' ? 'stringArray' : 'string')}`;
    return [`  ${short}--${spec.name}${value}`, spec.description] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `${left.padEnd(width)}${right}`).join('\n');
}
