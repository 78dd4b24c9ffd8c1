/**
 * POSIX.1-2001 (PAX) tar headers, encoded and decoded byte for byte.
 *
 * Written here rather than through tar-stream because tar-stream turns PAX values into
 * UTF-8 strings both ways: binary xattr values such as `security.capability` (which holds
 * bytes >= 0x80 for capabilities like CAP_SETUID) come out corrupted. Framing rules follow
 * Go's archive/tar, which containerd, BuildKit and moby use, so our tars read the same there.
 */
import { TbuildError } from '../../core/index.js';
import { NS_PER_SECOND, type TarEntry, type TarEntryType } from './tar-entry.js';

export const BLOCK_SIZE = 512;

const TYPEFLAGS: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

const MAX_OCTAL_8 = 0o7777777; // 7 digits + NUL
const MAX_OCTAL_12 = 0o77777777777; // 11 digits + NUL

export type TimestampPrecision = 'second' | 'nanosecond';

export interface EncodeOptions {
  /** 'second' (default) writes whole seconds, as containerd and moby do; 'nanosecond' adds a PAX mtime. */
  readonly timestampPrecision?: TimestampPrecision;
}

/** The bytes of one entry's header(s): an optional PAX extended header, then the ustar header. */
export function encodeEntryHeader(entry: TarEntry, options: EncodeOptions = {}): Buffer {
  const parts: Buffer[] = [];
  writeEntryHeader(
    entry,
    {
      claim: (length) => {
        const block = Buffer.alloc(length);
        parts.push(block);
        return block;
      },
      write: (bytes) => parts.push(Buffer.from(bytes)),
    },
    options,
  );
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** Where writeEntryHeader puts its bytes (a ChunkWriter): blocks filled in place, or whole pieces. */
export interface HeaderSink {
  /** A zero-filled region of `length` bytes, kept; filled in place before the next call. */
  claim(length: number): Buffer;
  write(bytes: Uint8Array): void;
}

/**
 * Writes one entry's header(s) into `sink`. The common case (no PAX header)
 * fills a block of the sink in place: a buffer of its own per entry cost
 * more than encoding the fields.
 */
export function writeEntryHeader(
  entry: TarEntry,
  sink: HeaderSink,
  options: EncodeOptions = {},
): void {
  // Most entries need no PAX header: the map is made only when one does.
  let pax: Map<string, Buffer> | undefined;
  const setPax = (key: string, value: Buffer): void => {
    (pax ??= new Map()).set(key, value);
  };
  const name = entry.type === 'directory' ? `${entry.name}/` : entry.name;
  const split = splitUstarName(name);
  if (split === undefined) setPax('path', Buffer.from(name, 'utf8'));
  const linkpath = !fitsUstarString(entry.linkname, 100);
  if (linkpath) setPax('linkpath', Buffer.from(entry.linkname));
  const numeric = (key: string, value: number, max: number): number => {
    if (value >= 0 && value <= max) return value;
    setPax(key, Buffer.from(String(value)));
    return 0;
  };
  const uid = numeric('uid', entry.uid, MAX_OCTAL_8);
  const gid = numeric('gid', entry.gid, MAX_OCTAL_8);
  const size = numeric('size', entry.size, MAX_OCTAL_12);
  const seconds = floorDiv(entry.mtimeNs, NS_PER_SECOND);
  const fraction = entry.mtimeNs - seconds * NS_PER_SECOND;
  let mtime = 0;
  if (seconds >= 0n && seconds <= BigInt(MAX_OCTAL_12)) mtime = Number(seconds);
  else setPax('mtime', Buffer.from(seconds.toString()));
  // The ustar field keeps the whole second for readers that ignore PAX.
  if ((options.timestampPrecision ?? 'second') === 'nanosecond' && fraction !== 0n) {
    setPax('mtime', Buffer.from(formatPaxTime(entry.mtimeNs)));
  }
  if (entry.atimeNs !== undefined) setPax('atime', Buffer.from(formatPaxTime(entry.atimeNs)));
  for (const [key, value] of entry.xattrs) setPax(`SCHILY.xattr.${key}`, value);

  const fields: UstarFields = {
    name: split ?? { prefix: '', name: asciiTruncate(name, 100) },
    mode: entry.mode & 0o7777,
    uid,
    gid,
    size,
    mtime,
    typeflag: TYPEFLAGS[entry.type],
    linkname: linkpath ? asciiTruncate(entry.linkname, 100) : entry.linkname,
    devmajor: entry.devmajor,
    devminor: entry.devminor,
  };
  if (pax !== undefined) {
    const records = encodePaxRecords(pax);
    fillUstarHeader(sink.claim(BLOCK_SIZE), {
      name: { prefix: '', name: asciiTruncate(`PaxHeaders.0/${baseName(name)}`, 100) },
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: records.length,
      mtime: 0,
      typeflag: 'x',
      linkname: '',
      devmajor: 0,
      devminor: 0,
    });
    sink.write(records);
    sink.write(zeroPadding(records.length));
  }
  fillUstarHeader(sink.claim(BLOCK_SIZE), fields);
}

/** Zero bytes that fill the last block of a body of `size` bytes. */
export function zeroPadding(size: number): Buffer {
  const rest = size % BLOCK_SIZE;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK_SIZE - rest);
}

/** Two zero blocks end a tar. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK_SIZE * 2);

interface UstarFields {
  readonly name: { readonly prefix: string; readonly name: string };
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly typeflag: string;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
}

const USTAR_MAGIC = Buffer.from('ustar\u000000', 'latin1');
/** The bytes every header has: the magic, and the checksum field as eight spaces while summing. */
const CONSTANT_SUM = USTAR_MAGIC.reduce((sum, byte) => sum + byte, 0) + 8 * 0x20;

/**
 * Writes a ustar header into `block`, a zero-filled 512-byte region. The
 * checksum is summed from the fields as they are written rather than read back
 * from the block: a 512-byte loop per entry cost more than the rest together.
 */
function fillUstarHeader(block: Buffer, fields: UstarFields): void {
  let sum = CONSTANT_SUM;
  sum += writeString(block, 0, 100, fields.name.name);
  sum += writeOctal(block, 100, 8, fields.mode);
  sum += writeOctal(block, 108, 8, fields.uid);
  sum += writeOctal(block, 116, 8, fields.gid);
  sum += writeOctal(block, 124, 12, fields.size);
  sum += writeOctal(block, 136, 12, fields.mtime);
  sum += writeString(block, 156, 1, fields.typeflag);
  sum += writeString(block, 157, 100, fields.linkname);
  block.set(USTAR_MAGIC, 257);
  sum += writeOctal(block, 329, 8, fields.devmajor);
  sum += writeOctal(block, 337, 8, fields.devminor);
  sum += writeString(block, 345, 155, fields.name.prefix);
  block.fill(0x20, 148, 156);
  writeOctal(block, 148, 7, sum);
}

/** Writes `value` as UTF-8 (truncated to `width` bytes) and returns the sum of the bytes written. */
function writeString(block: Buffer, offset: number, width: number, value: string): number {
  if (value === '') return 0;
  const written = block.write(value, offset, width, 'utf8');
  let sum = 0;
  for (let index = 0; index < written; index++) sum += block[offset + index] ?? 0;
  return sum;
}

/** Writes zero-padded octal digits and a NUL; returns the sum of the bytes written. */
function writeOctal(block: Buffer, offset: number, width: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 8 ** (width - 1)) {
    throw new TbuildError(
      'TB_INTERNAL',
      `tar field overflow: ${String(value)} in ${String(width)} bytes`,
    );
  }
  // Digits written as bytes: no string per field.
  let rest = value;
  let sum = 0;
  for (let index = offset + width - 2; index >= offset; index--) {
    const digit = 0x30 + (rest % 8);
    block[index] = digit;
    sum += digit;
    rest = Math.floor(rest / 8);
  }
  block[offset + width - 1] = 0;
  return sum;
}

/** Splits a name into ustar prefix (155 bytes) and name (100 bytes), or undefined if PAX is needed. */
function splitUstarName(name: string): { prefix: string; name: string } | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= 100) return { prefix: '', name };
  for (let slash = name.indexOf('/'); slash !== -1; slash = name.indexOf('/', slash + 1)) {
    const prefix = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0)
      return { prefix, name: rest };
    if (prefix.length > 155) break;
  }
  return undefined;
}

function fitsUstarString(value: string, width: number): boolean {
  return isAscii(value) && value.length <= width;
}

function isAscii(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\u0001-\u007f]*$/.test(value);
}

function asciiTruncate(value: string, width: number): string {
  return value.replace(/[^\u0020-\u007e]/g, '_').slice(0, width);
}

function baseName(name: string): string {
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** PAX records `<len> <key>=<value>\n`, keys sorted so the same entry gives the same bytes. */
export function encodePaxRecords(records: ReadonlyMap<string, Buffer>): Buffer {
  const keys = [...records.keys()].sort();
  const parts: Buffer[] = [];
  for (const key of keys) {
    const value = records.get(key) ?? Buffer.alloc(0);
    const body = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
    let length = body + String(body).length;
    if (String(length).length !== String(body).length) length = body + String(length).length;
    parts.push(Buffer.from(`${String(length)} ${key}=`), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

export function decodePaxRecords(data: Buffer, into: Map<string, Buffer>): void {
  let offset = 0;
  while (offset < data.length) {
    if (data[offset] === 0) break; // some writers pad with NULs
    const space = data.indexOf(0x20, offset);
    const length = space === -1 ? NaN : Number(data.toString('latin1', offset, space));
    if (!Number.isSafeInteger(length) || length <= 0 || offset + length > data.length) {
      throw invalid('malformed PAX record length');
    }
    const record = data.subarray(space + 1, offset + length);
    const equals = record.indexOf(0x3d);
    if (equals === -1 || record[record.length - 1] !== 0x0a) throw invalid('malformed PAX record');
    into.set(record.toString('utf8', 0, equals), Buffer.from(record.subarray(equals + 1, -1)));
    offset += length;
  }
}

function formatPaxTime(ns: bigint): string {
  const sign = ns < 0n ? '-' : '';
  const magnitude = ns < 0n ? -ns : ns;
  const seconds = magnitude / NS_PER_SECOND;
  const fraction = (magnitude % NS_PER_SECOND).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${seconds.toString()}${fraction === '' ? '' : `.${fraction}`}`;
}

export function parsePaxTime(value: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d*))?$/.exec(value);
  if (match === null) throw invalid(`malformed PAX time ${JSON.stringify(value)}`);
  const fraction = BigInt(((match[3] ?? '') + '000000000').slice(0, 9));
  const magnitude = BigInt(match[2] ?? '0') * NS_PER_SECOND + fraction;
  return match[1] === '-' ? -magnitude : magnitude;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

export function invalid(message: string, details?: Record<string, unknown>): TbuildError {
  return new TbuildError('TB_LAYER_INVALID', `invalid layer tar: ${message}`, {
    ...(details === undefined ? {} : { details }),
  });
}
