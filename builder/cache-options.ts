import { TbuildError } from '../core/index.js';
import type { CacheExportSpec, CacheImportSpec, CacheMode } from '../worker/index.js';
import { parseCsvOptions } from './csv-options.js';

/**
 * `--cache-to` and `--cache-from`, as `docker buildx build` spells them. Every
 * key and value is checked here, before anything runs: an unknown one is a
 * usage error (exit 2) that names it and the accepted ones.
 */

const EXPORT_KEYS: Readonly<Record<CacheExportSpec['type'], readonly string[]>> = {
  registry: [
    'type',
    'ref',
    'mode',
    'compression',
    'compression-level',
    'oci-mediatypes',
    'image-manifest',
    'ignore-error',
    'cache-mounts',
  ],
  local: [
    'type',
    'dest',
    'mode',
    'compression',
    'compression-level',
    'oci-mediatypes',
    'image-manifest',
    'ignore-error',
    'cache-mounts',
  ],
  inline: ['type'],
};

const IMPORT_KEYS: Readonly<Record<CacheImportSpec['type'], readonly string[]>> = {
  registry: ['type', 'ref'],
  local: ['type', 'src', 'digest'],
};

const COMPRESSIONS = ['gzip', 'zstd', 'uncompressed'] as const;
const MODES: readonly CacheMode[] = ['min', 'max'];

export function parseCacheTo(text: string): CacheExportSpec {
  const options = parseCsvOptions(text, '--cache-to');
  const type = oneOf(
    options.get('type'),
    ['registry', 'local', 'inline'],
    'type',
    text,
    '--cache-to',
  );
  checkKeys(options, EXPORT_KEYS[type], type, text, '--cache-to');
  if (type === 'inline') return { type: 'inline' };
  const mode = oneOf(options.get('mode') ?? 'min', MODES, 'mode', text, '--cache-to');
  const compression = oneOf(
    options.get('compression') ?? 'gzip',
    COMPRESSIONS,
    'compression',
    text,
    '--cache-to',
  );
  const level = parseLevel(options.get('compression-level'), compression, text);
  const ociMediaTypes = parseBoolean(options, 'oci-mediatypes', true, text);
  if (compression === 'zstd' && !ociMediaTypes)
    throw usage(`invalid --cache-to "${text}": zstd layers need oci-mediatypes=true`);
  const common = {
    mode,
    compression,
    ...(level === undefined ? {} : { compressionLevel: level }),
    ociMediaTypes,
    imageManifest: parseBoolean(options, 'image-manifest', true, text),
    ignoreError: parseBoolean(options, 'ignore-error', false, text),
    cacheMounts: parseBoolean(options, 'cache-mounts', false, text),
  };
  if (type === 'registry')
    return { type, ref: required(options, 'ref', text, '--cache-to'), ...common };
  return { type, dest: required(options, 'dest', text, '--cache-to'), ...common };
}

/** `--cache-from REF` is short for `type=registry,ref=REF`. */
export function parseCacheFrom(text: string): CacheImportSpec {
  if (!text.includes('=')) {
    if (text.trim() === '') throw usage('invalid --cache-from "": expected REF or type=…');
    return { type: 'registry', ref: text.trim() };
  }
  const options = parseCsvOptions(text, '--cache-from');
  const type = oneOf(options.get('type'), ['registry', 'local'], 'type', text, '--cache-from');
  checkKeys(options, IMPORT_KEYS[type], type, text, '--cache-from');
  if (type === 'registry') return { type, ref: required(options, 'ref', text, '--cache-from') };
  const digest = options.get('digest');
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest))
    throw usage(`invalid --cache-from digest "${digest}": expected sha256:<64 hex digits>`);
  return {
    type,
    src: required(options, 'src', text, '--cache-from'),
    ...(digest === undefined ? {} : { digest }),
  };
}

function checkKeys(
  options: ReadonlyMap<string, string>,
  accepted: readonly string[],
  type: string,
  text: string,
  flag: string,
): void {
  for (const key of options.keys()) {
    if (!accepted.includes(key))
      throw usage(
        `invalid ${flag} key "${key}" in "${text}"`,
        `type=${type} accepts ${accepted.join(', ')}`,
      );
  }
}

function oneOf<T extends string>(
  value: string | undefined,
  accepted: readonly T[],
  key: string,
  text: string,
  flag: string,
): T {
  if (value === undefined)
    throw usage(`invalid ${flag} "${text}": ${key} is required`, `${key}=${accepted.join('|')}`);
  if (!(accepted as readonly string[]).includes(value))
    throw usage(
      `invalid ${flag} ${key} "${value}" in "${text}"`,
      `${key} accepts ${accepted.join(', ')}`,
    );
  return value as T;
}

function required(
  options: ReadonlyMap<string, string>,
  key: string,
  text: string,
  flag: string,
): string {
  const value = options.get(key);
  if (value === undefined || value === '')
    throw usage(`invalid ${flag} "${text}": ${key} is required`);
  return value;
}

function parseBoolean(
  options: ReadonlyMap<string, string>,
  key: string,
  fallback: boolean,
  text: string,
): boolean {
  const value = options.get(key);
  if (value === undefined) return fallback;
  if (value === '' || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw usage(`invalid --cache-to ${key} "${value}" in "${text}"`, `${key} accepts true, false`);
}

function parseLevel(
  value: string | undefined,
  compression: (typeof COMPRESSIONS)[number],
  text: string,
): number | undefined {
  if (value === undefined) return undefined;
  const most = compression === 'zstd' ? 22 : 9;
  if (!/^\d+$/.test(value) || Number(value) > most)
    throw usage(
      `invalid --cache-to compression-level "${value}" in "${text}"`,
      `compression-level accepts 0 to ${String(most)} for ${compression}`,
    );
  return Number(value);
}

function usage(message: string, hint?: string): TbuildError {
  return new TbuildError('TB_USAGE', message, hint === undefined ? {} : { hint });
}
