import type { RunMountFlag } from './instructions.js';
import { didYouMean, flagValueError, type Location } from './source.js';

/**
 * `RUN --mount=…` values: comma-separated (CSV) `key=value` fields, keys
 * case-insensitive, aliases normalised, each option checked against the mount
 * type (BuildKit instructions/runmount.go). Values that hold a variable are
 * kept for the converter to expand and check; literal values are checked here.
 */
type MountType = RunMountFlag['type'];

const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];

const ALIASES: Readonly<Record<string, string>> = {
  dst: 'target',
  destination: 'target',
  src: 'source',
  ro: 'readonly',
  rw: 'readwrite',
};

const OPTIONS_BY_TYPE: Readonly<Record<MountType, readonly string[]>> = {
  bind: ['target', 'source', 'from', 'readonly', 'readwrite'],
  cache: [
    'target',
    'id',
    'sharing',
    'from',
    'source',
    'readonly',
    'readwrite',
    'mode',
    'uid',
    'gid',
  ],
  tmpfs: ['target', 'size'],
  secret: ['id', 'target', 'env', 'required', 'mode', 'uid', 'gid'],
  ssh: ['id', 'target', 'required', 'mode', 'uid', 'gid'],
};

const ALL_KEYS = [
  'type',
  ...new Set(Object.values(OPTIONS_BY_TYPE).flat()),
  ...Object.keys(ALIASES),
];
const BOOLEAN_OPTIONS = new Set(['readonly', 'readwrite', 'required']);

export function parseMount(value: string, where: Location): RunMountFlag {
  const fields = splitCsv(value, where);
  const options: Record<string, string> = {};
  let type: MountType = 'bind';
  for (const field of fields) {
    const equals = field.indexOf('=');
    const rawKey = (equals < 0 ? field : field.slice(0, equals)).toLowerCase();
    const key = ALIASES[rawKey] ?? rawKey;
    let fieldValue = equals < 0 ? undefined : field.slice(equals + 1);
    if (key === 'type') {
      type = mountType(fieldValue ?? '', where);
      continue;
    }
    if (!ALL_KEYS.includes(key)) {
      throw flagValueError(
        where,
        `unexpected key '${rawKey}' in '${field}' of --mount${didYouMean(rawKey, ALL_KEYS)}`,
      );
    }
    if (BOOLEAN_OPTIONS.has(key)) {
      fieldValue = parseBool(key, fieldValue ?? 'true', where);
    } else if (fieldValue === undefined) {
      throw flagValueError(where, `invalid field '${field}' of --mount: must be a key=value pair`);
    }
    if (key === 'readwrite' && !hasVariable(fieldValue)) {
      // rw=true is readonly=false: store one spelling for the converter.
      options['readonly'] = fieldValue === 'true' ? 'false' : 'true';
      continue;
    }
    options[key] = fieldValue;
  }
  for (const key of Object.keys(options)) {
    if (!OPTIONS_BY_TYPE[type].includes(key)) {
      throw flagValueError(where, `mount option '${key}' is not allowed for type=${type} mounts`, {
        hint: `type=${type} accepts ${OPTIONS_BY_TYPE[type].join(', ')}`,
      });
    }
  }
  checkValues(type, options, where);
  return { type, options };
}

function mountType(value: string, where: Location): MountType {
  const lowered = value.toLowerCase();
  const found = MOUNT_TYPES.find((type) => type === lowered);
  if (found === undefined) {
    throw flagValueError(
      where,
      `unsupported mount type "${value}"${didYouMean(value, MOUNT_TYPES)}`,
      {
        hint: `mount types are ${MOUNT_TYPES.join(', ')}`,
      },
    );
  }
  return found;
}

const hasVariable = (value: string): boolean => value.includes('$');

function checkValues(type: MountType, options: Record<string, string>, where: Location): void {
  const sharing = options['sharing'];
  if (sharing !== undefined && !hasVariable(sharing)) {
    const lowered = sharing.toLowerCase();
    if (!['shared', 'private', 'locked'].includes(lowered)) {
      throw flagValueError(
        where,
        `unrecognized cache sharing "${sharing}" in --mount${didYouMean(sharing, ['shared', 'private', 'locked'])}`,
      );
    }
    options['sharing'] = lowered;
  }
  const mode = options['mode'];
  if (mode !== undefined && !hasVariable(mode) && !/^[0-7]{1,11}$/.test(mode)) {
    throw flagValueError(where, `invalid mode "${mode}" in --mount: expected an octal number`);
  }
  for (const key of ['uid', 'gid']) {
    const id = options[key];
    if (id !== undefined && !hasVariable(id) && !(/^\d+$/.test(id) && Number(id) <= 0xffffffff)) {
      throw flagValueError(where, `invalid ${key} "${id}" in --mount: expected a number`);
    }
  }
  const size = options['size'];
  if (size !== undefined && !hasVariable(size) && !/^\d+(\.\d+)?\s?[kmgtp]?i?b?$/i.test(size)) {
    throw flagValueError(where, `invalid size "${size}" in --mount: expected e.g. 64m`);
  }
  const needsTarget = type === 'bind' || type === 'cache' || type === 'tmpfs';
  if (needsTarget && (options['target'] === undefined || options['target'] === '')) {
    throw flagValueError(where, `--mount type=${type} requires a target`, {
      hint: `add target=<path in the container>`,
    });
  }
  if (
    type === 'secret' &&
    options['id'] === undefined &&
    options['target'] === undefined &&
    options['env'] === undefined
  ) {
    throw flagValueError(where, '--mount type=secret requires an id, a target or an env');
  }
}

/** Go's strconv.ParseBool, normalised to "true"/"false"; variables kept as written. */
function parseBool(key: string, value: string, where: Location): string {
  if (hasVariable(value)) return value;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return 'true';
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return 'false';
  throw flagValueError(
    where,
    `invalid value "${value}" for mount option '${key}': expected true or false`,
  );
}

/** One CSV record (encoding/csv): fields split on commas, `"…"` quoting with `""` for a quote. */
function splitCsv(value: string, where: Location): string[] {
  const fields: string[] = [];
  let pos = 0;
  for (;;) {
    let field = '';
    if (value[pos] === '"') {
      pos++;
      for (;;) {
        if (pos >= value.length)
          throw flagValueError(where, `unterminated quote in --mount=${value}`);
        const ch = value[pos] ?? '';
        if (ch === '"') {
          if (value[pos + 1] === '"') {
            field += '"';
            pos += 2;
            continue;
          }
          pos++;
          break;
        }
        field += ch;
        pos++;
      }
      if (pos < value.length && value[pos] !== ',') {
        throw flagValueError(where, `extraneous " in field of --mount=${value}`);
      }
    } else {
      const comma = value.indexOf(',', pos);
      field = comma < 0 ? value.slice(pos) : value.slice(pos, comma);
      if (field.includes('"'))
        throw flagValueError(where, `bare " in non-quoted field of --mount=${value}`);
      pos = comma < 0 ? value.length : comma;
    }
    fields.push(field);
    if (pos >= value.length) break;
    pos++; // the comma
  }
  return fields;
}
