import { createWriteStream } from 'node:fs';
import { link, mkdir, symlink, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { TbuildError } from '../core/index.js';
import type { ServiceLimits } from './config.js';

/**
 * Writes a build context sent as a tar (gzip accepted, as the Docker API does)
 * into `dir`, refusing anything that could write outside it: names with `..`
 * or absolute names, device files and FIFOs, symlinks and hard links that point
 * out of the context, and entries below a symlink. Limits (bytes once
 * extracted, entries, path length) fail with TB_SERVICE_LIMIT; the body's own
 * size is counted as it arrives (`bodyBytes`).
 */
export async function extractContextTar(
  body: Readable,
  dir: string,
  limits: ServiceLimits,
  signal: AbortSignal,
): Promise<{ files: number; bytes: number }> {
  const extractor = tarExtract();
  const counted = countBytes(limits.bodyBytes);
  const feeding = pipeline(body, counted, gunzipIfNeeded(), extractor, { signal }).catch(
    (error: unknown) => {
      extractor.destroy(error instanceof Error ? error : undefined);
      throw error;
    },
  );
  const symlinks = new Set<string>();
  let files = 0;
  let bytes = 0;
  try {
    for await (const entry of extractor) {
      const header = entry.header;
      files += 1;
      if (files > limits.files)
        throw limit(`the context has more than ${String(limits.files)} entries`);
      const name = safeName(header.name, limits);
      if (name === '') {
        entry.resume();
        continue;
      }
      refuseBelowSymlink(name, symlinks);
      const target = join(dir, name);
      await mkdir(join(dir, posix.dirname(name)), { recursive: true });
      switch (header.type) {
        case 'directory':
          await mkdir(target, { recursive: true, mode: header.mode & 0o7777 });
          entry.resume();
          break;
        case 'file':
        case 'contiguous-file': {
          bytes += header.size;
          if (bytes > limits.contextBytes)
            throw limit(`the context is larger than ${String(limits.contextBytes)} bytes`);
          await pipeline(
            entry,
            createWriteStream(target, { flags: 'wx', mode: header.mode & 0o7777 }),
          );
          break;
        }
        case 'symlink':
          inContext(posix.join(posix.dirname(name), header.linkname), header.name);
          symlinks.add(name);
          await symlink(header.linkname, target);
          entry.resume();
          break;
        case 'link': {
          const source = safeName(header.linkname, limits);
          refuseBelowSymlink(source, symlinks);
          await link(join(dir, source), target);
          entry.resume();
          break;
        }
        case 'fifo':
        case 'block-device':
        case 'character-device':
          throw unsafe(`"${header.name}" is a ${header.type}, which a context may not hold`);
      }
      if (header.type !== 'symlink')
        await utimes(target, header.mtime, header.mtime).catch(() => undefined);
    }
    await feeding;
  } catch (error) {
    body.resume();
    await feeding.catch(() => undefined);
    throw asContextError(error);
  }
  return { files, bytes };
}

/** The entry's name relative to the context root, or throws for `..` and absolute names. */
function safeName(raw: string, limits: ServiceLimits): string {
  if (Buffer.byteLength(raw) > limits.pathBytes)
    throw limit(`a path in the context is longer than ${String(limits.pathBytes)} bytes`);
  if (raw.startsWith('/')) throw unsafe(`"${raw}" is an absolute name`);
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw unsafe(`"${raw}" climbs out of the context with ..`);
  if (raw.includes('\0')) throw unsafe('a name holds a NUL byte');
  return parts.join('/');
}

/** A link's target must stay inside the context once resolved from the link's directory. */
function inContext(resolved: string, name: string): void {
  const normal = posix.normalize(resolved);
  if (posix.isAbsolute(normal) || normal === '..' || normal.startsWith('../'))
    throw unsafe(`"${name}" links out of the context`);
}

function refuseBelowSymlink(name: string, symlinks: ReadonlySet<string>): void {
  const parts = name.split('/');
  for (let length = 1; length < parts.length; length++) {
    if (symlinks.has(parts.slice(0, length).join('/')))
      throw unsafe(
        `"${name}" would be written through the symlink ${parts.slice(0, length).join('/')}`,
      );
  }
}

/** Passes bytes through, failing once more than `max` went by. */
function countBytes(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > max) done(limit(`the request body is larger than ${String(max)} bytes`));
      else done(null, chunk);
    },
  });
}

/** Gunzips a stream that starts with gzip's magic bytes; passes any other through. */
function gunzipIfNeeded(): Transform {
  let decided: Transform | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (decided === undefined) {
        decided = chunk[0] === 0x1f && chunk[1] === 0x8b ? createGunzip() : new PassThrough();
        decided.on('data', (data: Buffer) => this.push(data));
        decided.on('error', (error) => this.destroy(error));
      }
      if (decided.write(chunk)) done();
      else decided.once('drain', done);
    },
    flush(done) {
      if (decided === undefined) {
        done();
        return;
      }
      decided.once('end', () => {
        done();
      });
      decided.end();
    },
  });
}

function asContextError(error: unknown): TbuildError {
  if (error instanceof TbuildError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TbuildError('TB_SERVICE_CONTEXT', `the build context is not a valid tar: ${message}`, {
    hint: 'send the context as a tar (gzip accepted), as `tar -c . | curl --data-binary @-` makes it',
    cause: error,
  });
}

function unsafe(message: string): TbuildError {
  return new TbuildError('TB_SERVICE_CONTEXT', `unsafe build context: ${message}`, {
    hint: 'nothing was written outside the build; remove or fix that entry',
  });
}

function limit(message: string): TbuildError {
  return new TbuildError('TB_SERVICE_LIMIT', message, {
    hint: 'raise the service limit (docs/config.md) or leave files out with .dockerignore',
  });
}
