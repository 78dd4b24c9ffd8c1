import type {
  AddInstruction,
  CopyInstruction,
  Heredoc,
  VolumeInstruction,
} from './instructions.js';
import { parseHeredocWord } from './heredoc-words.js';
import { type FlagValues, parseFlags } from './flags.js';
import type { RawInstruction } from './raw.js';
import { argumentsError } from './source.js';
import { parseJsonArray, splitWhitespace, trimSpace } from './words.js';

/** COPY, ADD and VOLUME: the instructions whose arguments are a list (JSON or words). */

/** parseMaybeJSONToList: a JSON array of strings, else whitespace-separated words. */
function argumentList(raw: RawInstruction, instruction: string): string[] {
  const json = parseJsonArray(raw.rest);
  if (json.kind === 'array') return [...json.values];
  if (json.kind === 'not-strings') {
    throw argumentsError(
      raw.where,
      `${instruction}: when using JSON array syntax, arrays must be comprised of strings only`,
    );
  }
  return splitWhitespace(raw.rest);
}

interface SourcesAndDest {
  readonly sources: string[];
  readonly dest: string;
  readonly heredocs: Heredoc[];
}

/**
 * parseSourcesAndDest: the last argument is the destination; sources that open
 * a heredoc (`<<EOF`) become inline files whose content was read by the scanner.
 */
function sourcesAndDest(raw: RawInstruction, instruction: string): SourcesAndDest {
  const args = argumentList(raw, instruction);
  const dest = args.pop();
  if (dest === undefined || args.length === 0) {
    throw argumentsError(
      raw.where,
      `${instruction} requires at least two arguments, but only one was provided. Destination could not be determined`,
    );
  }
  if (parseHeredocWord(dest) !== undefined) {
    throw argumentsError(raw.where, `${instruction} cannot use a heredoc as its destination`);
  }
  const byName = new Map(raw.heredocs.map((heredoc) => [heredoc.name, heredoc]));
  const sources: string[] = [];
  const heredocs: Heredoc[] = [];
  for (const source of args) {
    const opener = parseHeredocWord(source);
    if (opener === undefined) {
      sources.push(source);
      continue;
    }
    // As in BuildKit, a heredoc word whose body was not read (JSON form) is empty.
    const content = byName.get(opener.name)?.content ?? '';
    heredocs.push({
      name: opener.name,
      content: opener.chomp ? content.replace(/^\t+/gm, '') : content,
      expand: opener.expand,
      chomp: opener.chomp,
    });
  }
  return { sources, dest, heredocs };
}

function copyFlags(flags: FlagValues) {
  const chown = flags.string('chown');
  const chmod = flags.string('chmod');
  return {
    ...(chown === undefined ? {} : { chown }),
    ...(chmod === undefined ? {} : { chmod }),
    link: flags.bool('link'),
    exclude: flags.strings('exclude'),
  };
}

export function parseCopy(raw: RawInstruction): CopyInstruction {
  const flags = parseFlags(
    'COPY',
    raw.flags,
    {
      from: 'string',
      chown: 'string',
      chmod: 'string',
      link: 'bool',
      parents: 'bool',
      exclude: 'strings',
    },
    raw.where,
  );
  const from = flags.string('from');
  return {
    kind: 'COPY',
    ...raw.base,
    ...sourcesAndDest(raw, 'COPY'),
    ...copyFlags(flags),
    ...(from === undefined ? {} : { from }),
    parents: flags.bool('parents'),
  };
}

export function parseAdd(raw: RawInstruction): AddInstruction {
  const flags = parseFlags(
    'ADD',
    raw.flags,
    {
      chown: 'string',
      chmod: 'string',
      link: 'bool',
      checksum: 'string',
      'keep-git-dir': 'bool',
      exclude: 'strings',
      unpack: 'bool',
    },
    raw.where,
  );
  const checksum = flags.string('checksum');
  const unpack = flags.optionalBool('unpack');
  return {
    kind: 'ADD',
    ...raw.base,
    ...sourcesAndDest(raw, 'ADD'),
    ...copyFlags(flags),
    ...(checksum === undefined ? {} : { checksum }),
    keepGitDir: flags.bool('keep-git-dir'),
    ...(unpack === undefined ? {} : { unpack }),
  };
}

export function parseVolume(raw: RawInstruction): VolumeInstruction {
  parseFlags('VOLUME', raw.flags, {}, raw.where);
  const paths = argumentList(raw, 'VOLUME').map((path) => trimSpace(path));
  if (paths.length === 0) throw argumentsError(raw.where, 'VOLUME requires at least one argument');
  if (paths.includes('')) {
    throw argumentsError(raw.where, 'VOLUME specified can not be an empty string');
  }
  return { kind: 'VOLUME', ...raw.base, paths };
}
