/**
 * Reads a tar stream entry by entry: ustar, PAX (binary-safe, incl. global headers), GNU
 * long names. Bodies are streamed; a body the caller leaves unread is skipped.
 */
import { throwIfAborted } from '../../core/index.js';
import { NS_PER_SECOND, type TarEntry, type TarEntryType } from './tar-entry.js';
import { BLOCK_SIZE, decodePaxRecords, invalid, parsePaxTime } from './tar-header.js';

export interface TarReadEntry {
  readonly entry: TarEntry;
  /** The content of a regular file, in chunks. Read it before asking for the next entry. */
  readonly body: AsyncIterable<Buffer>;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\u0000': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

/** Headers this large are an attack or a broken file, not metadata. */
const MAX_META_SIZE = 1 << 20;

export async function* readTar(
  source: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
): AsyncGenerator<TarReadEntry> {
  const bytes = new ByteReader(source);
  const globalPax = new Map<string, Buffer>();
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    throwIfAborted(signal);
    const block = await bytes.read(BLOCK_SIZE);
    if (block === undefined) {
      // EOF without end blocks is tolerated, as GNU tar does, but not after a bare header.
      if (pax.size > 0 || longName !== undefined || longLink !== undefined) {
        throw invalid('unexpected end of tar after an extended header');
      }
      return;
    }
    if (block.every((byte) => byte === 0)) return;
    verifyChecksum(block);
    const flag = String.fromCharCode(block[156] ?? 0);
    const size = readNumber(block, 124, 12);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META_SIZE) throw invalid(`metadata entry of ${String(size)} bytes`);
      const data = await bytes.readExactly(size);
      await bytes.readExactly(padding(size));
      if (flag === 'x') decodePaxRecords(data, pax);
      else if (flag === 'g') decodePaxRecords(data, globalPax);
      else if (flag === 'L') longName = cString(data);
      else longLink = cString(data);
      continue;
    }
    const type = TYPES[flag];
    if (type === undefined) throw invalid(`unsupported entry type ${JSON.stringify(flag)}`);
    const records = new Map([...globalPax, ...pax]);
    const entry = decodeEntry(block, type, records, longName, longLink);
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    const bodySize = type === 'file' ? entry.size : 0;
    let remaining = bodySize;
    const body = (async function* () {
      while (remaining > 0) {
        const chunk = await bytes.readSome(remaining);
        remaining -= chunk.length;
        yield chunk;
      }
    })();
    yield { entry, body };
    while (remaining > 0) remaining -= (await bytes.readSome(remaining)).length;
    await bytes.readExactly(padding(bodySize));
  }
}

function decodeEntry(
  block: Buffer,
  type: TarEntryType,
  pax: ReadonlyMap<string, Buffer>,
  longName: string | undefined,
  longLink: string | undefined,
): TarEntry {
  const magic = block.toString('latin1', 257, 263);
  const prefix = magic === 'ustar\u0000' ? cString(block.subarray(345, 500)) : '';
  let name = cString(block.subarray(0, 100));
  if (prefix !== '') name = `${prefix}/${name}`;
  name = paxString(pax, 'path') ?? longName ?? name;
  const linkname = paxString(pax, 'linkpath') ?? longLink ?? cString(block.subarray(157, 257));
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of [...pax].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice('SCHILY.xattr.'.length), value);
  }
  const mtime = paxString(pax, 'mtime');
  const atime = paxString(pax, 'atime');
  const entry: TarEntry = {
    name: name.replace(/\/+$/, ''),
    type,
    mode: readNumber(block, 100, 8) & 0o7777,
    uid: paxNumber(pax, 'uid') ?? readNumber(block, 108, 8),
    gid: paxNumber(pax, 'gid') ?? readNumber(block, 116, 8),
    size: type === 'file' ? (paxNumber(pax, 'size') ?? readNumber(block, 124, 12)) : 0,
    mtimeNs:
      mtime === undefined
        ? BigInt(readNumber(block, 136, 12)) * NS_PER_SECOND
        : parsePaxTime(mtime),
    linkname,
    devmajor: readNumber(block, 329, 8),
    devminor: readNumber(block, 337, 8),
    xattrs,
    ...(atime === undefined ? {} : { atimeNs: parsePaxTime(atime) }),
  };
  return entry;
}

function paxString(pax: ReadonlyMap<string, Buffer>, key: string): string | undefined {
  return pax.get(key)?.toString('utf8');
}

function paxNumber(pax: ReadonlyMap<string, Buffer>, key: string): number | undefined {
  const value = paxString(pax, key);
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed)) {
    throw invalid(`malformed PAX ${key} ${JSON.stringify(value)}`);
  }
  return parsed;
}

function verifyChecksum(block: Buffer): void {
  const stored = readNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let index = 0; index < BLOCK_SIZE; index++) {
    const byte = index >= 148 && index < 156 ? 0x20 : (block[index] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) throw invalid('header checksum mismatch');
}

/** Octal, or GNU base-256 when the high bit of the first byte is set. */
function readNumber(block: Buffer, offset: number, width: number): number {
  const field = block.subarray(offset, offset + width);
  if (((field[0] ?? 0) & 0x80) !== 0) {
    if (field[0] === 0xff) throw invalid('negative number in header');
    let value = BigInt((field[0] ?? 0) & 0x7f);
    for (const byte of field.subarray(1)) value = (value << 8n) | BigInt(byte);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid('number too large in header');
    return Number(value);
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/g, '')
    .replace(/^[ \0]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalid(`malformed number ${JSON.stringify(text)} in header`);
  return parseInt(text, 8);
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.toString('utf8', 0, end === -1 ? bytes.length : end);
}

function padding(size: number): number {
  const rest = size % BLOCK_SIZE;
  return rest === 0 ? 0 : BLOCK_SIZE - rest;
}

/** Pulls exact byte counts out of an async iterable of chunks. */
class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.iterator.next();
    if (next.done === true) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    return true;
  }

  /** Exactly `size` bytes, or undefined at a clean end of input. */
  async read(size: number): Promise<Buffer | undefined> {
    while (this.pending.length < size) {
      if (!(await this.fill())) {
        if (this.pending.length === 0) return undefined;
        throw invalid('unexpected end of tar');
      }
    }
    const out = this.pending.subarray(0, size);
    this.pending = this.pending.subarray(size);
    return out;
  }

  async readExactly(size: number): Promise<Buffer> {
    if (size === 0) return Buffer.alloc(0);
    const out = await this.read(size);
    if (out === undefined) throw invalid('unexpected end of tar');
    return out;
  }

  /** Between 1 and `max` bytes. */
  async readSome(max: number): Promise<Buffer> {
    if (this.pending.length === 0 && !(await this.fill())) throw invalid('unexpected end of tar');
    const out = this.pending.subarray(0, Math.min(max, this.pending.length));
    this.pending = this.pending.subarray(out.length);
    return out;
  }
}
