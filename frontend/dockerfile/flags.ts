import { dockerfileError, didYouMean, flagValueError, type Location } from './source.js';

/**
 * Instruction flags, checked as BuildKit's BFlags does: `--name=value` only
 * (Docker has no `--name value` form: `COPY --from base a b` fails with
 * "missing a value on flag"), booleans as `--link` or `--link=true|false`,
 * repeatable string-list flags (`--mount`, `--exclude`), and no flag twice.
 */
export type FlagKind = 'string' | 'bool' | 'strings';

export type FlagSpec = Readonly<Record<string, FlagKind>>;

export class FlagValues {
  readonly #values = new Map<string, string | string[]>();

  set(name: string, value: string | string[]): void {
    this.#values.set(name, value);
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** A string flag's value; undefined when absent or given empty (`--from=`), as Docker treats both. */
  string(name: string): string | undefined {
    const value = this.#values.get(name);
    return typeof value === 'string' && value !== '' ? value : undefined;
  }

  bool(name: string): boolean {
    return this.#values.get(name) === 'true';
  }

  /** `--unpack` style booleans whose absence means "Docker's default". */
  optionalBool(name: string): boolean | undefined {
    const value = this.#values.get(name);
    return value === undefined ? undefined : value === 'true';
  }

  strings(name: string): string[] {
    const value = this.#values.get(name);
    return Array.isArray(value) ? value : [];
  }
}

export function parseFlags(
  instruction: string,
  words: readonly string[],
  spec: FlagSpec,
  where: Location,
): FlagValues {
  const values = new FlagValues();
  for (const word of words) {
    const body = word.startsWith('--') ? word.slice(2) : word;
    const equals = body.indexOf('=');
    const name = equals < 0 ? body : body.slice(0, equals);
    const value = equals < 0 ? undefined : body.slice(equals + 1);
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (kind === undefined) {
      const names = Object.keys(spec);
      const accepted = names.length === 0 ? 'no flags' : names.map((n) => `--${n}`).join(', ');
      throw dockerfileError(
        'TB_DOCKERFILE_UNKNOWN_FLAG',
        where,
        `unknown flag: --${name}${didYouMean(name, names, (n) => `--${n}`)}`,
        { hint: `${instruction} accepts ${accepted}`, details: { instruction, flag: name } },
      );
    }
    if (kind !== 'strings' && values.has(name)) {
      throw flagValueError(where, `duplicate flag specified: --${name}`);
    }
    if (kind === 'bool') {
      const lowered = value?.toLowerCase() ?? 'true';
      if (lowered !== 'true' && lowered !== 'false') {
        throw flagValueError(
          where,
          `expecting boolean value for flag --${name}, not: ${value ?? ''}`,
        );
      }
      values.set(name, lowered);
      continue;
    }
    if (value === undefined) {
      throw flagValueError(where, `missing a value on flag: --${name}`, {
        hint: `Dockerfile flags take their value after "=": --${name}=<value>`,
      });
    }
    if (kind === 'strings') {
      values.set(name, [...values.strings(name), value]);
    } else {
      values.set(name, value);
    }
  }
  return values;
}
