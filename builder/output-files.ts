import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, chown, mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Writable } from 'node:stream';
import { isTbuildError, TbuildError, type WriteFaults } from '../core/index.js';
import { DeterministicTar } from '../worker/index.js';

const run = promisify(execFile);

/** What every output writer is given: the write-fault seam (tests only) and the build's signal. */
export interface OutputContext {
  readonly faults?: WriteFaults | undefined;
  readonly signal: AbortSignal;
}

/**
 * An image archive (oci/docker tar) to a file, whole or not at all, or to a
 * stream (`dest=-`). `write` adds the members.
 */
export async function writeArchiveOutput(
  dest: string | Writable,
  context: OutputContext,
  write: (tar: DeterministicTar) => Promise<void>,
): Promise<void> {
  const send = async (out: Writable): Promise<void> => {
    const tar = await DeterministicTar.create();
    await bothSettled(
      pipeline(tar.stream, out),
      async () => {
        await write(tar);
        tar.finalize();
      },
      tar.stream,
    );
  };
  if (typeof dest === 'string') await writeFileOutput(dest, context, send);
  else await send(dest);
}

/** The files of `dir` copied into `dest` (a directory, made if absent), whole or not at all. */
export async function copyTreeOutput(
  dir: string,
  dest: string,
  context: OutputContext,
): Promise<void> {
  await writeDirectoryOutput(dest, context, (into) =>
    // --remove-destination: `into` may hold hard links of dest's old files, never written through.
    run('cp', ['-a', '--remove-destination', '--', `${dir}/.`, `${into}/`], {
      signal: context.signal,
    }).then(() => undefined),
  );
}

/** The files of `dir` as a tar (BuildKit's tar exporter's names), to a file whole or not at all, or to a stream. */
export async function tarTreeOutput(
  dir: string,
  dest: string | Writable,
  context: OutputContext,
): Promise<void> {
  const send = async (out: Writable): Promise<void> => {
    // Entries named as BuildKit's tar exporter names them: `etc/passwd`, no `./` root.
    const entries = (await readdir(dir)).sort();
    const files = entries.length > 0 ? ['--', ...entries] : ['-T', '/dev/null'];
    const child = spawn(
      'tar',
      ['-C', dir, '--numeric-owner', '--sort=name', '-cf', '-', ...files],
      {
        signal: context.signal,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`tar exited with status ${String(code)}`));
      });
    });
    await bothSettled(pipeline(child.stdout, out), () => exited, child.stdout);
  };
  if (typeof dest === 'string') await writeFileOutput(dest, context, send);
  else await send(dest);
}

/**
 * Waits for a stream's pipeline and its producer together, so a failure of
 * either ends both (the other's rejection is never left unhandled) and the
 * first error is the one reported: a producer failing (a corrupt blob) stops
 * the pipe, and a pipe failing (a full disk) stops the producer.
 */
async function bothSettled(
  piped: Promise<void>,
  produce: () => Promise<void>,
  source: { destroy(error?: Error): void },
): Promise<void> {
  let first: Error | undefined;
  const asError = (error: unknown): Error =>
    error instanceof Error ? error : new Error(String(error));
  const producing = produce().catch((error: unknown) => {
    first ??= asError(error);
    source.destroy(first);
  });
  await piped.catch((error: unknown) => {
    first ??= asError(error);
  });
  // The pipe failed: a producer blocked on a destroyed stream might never settle.
  if (first === undefined) await producing;
  if (first !== undefined) throw first;
}

/** Free bytes below which a failed write is taken for a full disk (a tool's exit code does not say). */
const NEARLY_FULL_BYTES = 256 * 1024;

/**
 * Writes a file output whole or not at all: `write` fills a temp file beside
 * `dest` (same directory, so the same filesystem), which is renamed over
 * `dest` only once everything is written. On any failure the temp file is
 * removed and `dest` is as it was. Errors are TbuildErrors naming `dest`.
 */
export async function writeFileOutput(
  dest: string,
  options: OutputContext,
  write: (out: Writable) => Promise<void>,
): Promise<void> {
  const tmp = tempBeside(dest);
  try {
    options.faults?.write(tmp);
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
    await write(out);
    // A second chance for the seam, with the bytes written: a failure at the very end.
    options.faults?.write(tmp);
    await rename(tmp, dest);
  } catch (error) {
    const failure = await outputError(dest, error, options.signal);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw failure;
  }
}

/**
 * Writes a directory output whole or not at all: `fill` writes into a temp
 * directory beside `dest`, which then takes `dest`'s place. When `dest`
 * already holds files, the temp directory starts as hard links of them, so the
 * result is what writing into `dest` gave before (new files over old, other
 * old files kept) while `dest` itself is never half-written: `fill` must
 * replace a file (rename over it, or unlink first), never write into one.
 * Between the two renames of the swap, `dest` is briefly absent.
 */
export async function writeDirectoryOutput(
  dest: string,
  options: OutputContext,
  fill: (dir: string) => Promise<void>,
): Promise<void> {
  const existing = await stat(dest).catch(() => undefined);
  if (existing !== undefined && !existing.isDirectory())
    throw new TbuildError('TB_OUTPUT_WRITE', `cannot write output ${dest}: not a directory`, {
      hint: 'give a directory (or a path that does not exist yet) as dest',
      details: { path: dest },
    });
  // A mount point (a CI volume) cannot be renamed, and a temp dir beside it is on
  // another filesystem: the temp dir goes inside it, and its entries are swapped.
  const mountPoint = existing !== undefined && existing.dev !== (await stat(dirname(dest))).dev;
  const tmp = mountPoint ? join(dest, basename(tempBeside(dest))) : tempBeside(dest);
  let old: string | undefined;
  try {
    await mkdir(dirname(dest), { recursive: true });
    options.faults?.write(tmp);
    await mkdir(tmp);
    if (existing !== undefined) {
      await chmod(tmp, existing.mode & 0o7777);
      await chown(tmp, existing.uid, existing.gid);
      const names = (await readdir(dest)).filter((name) => join(dest, name) !== tmp);
      if (names.length > 0)
        await run('cp', ['-al', '--', ...names.map((name) => join(dest, name)), `${tmp}/`], {
          signal: options.signal,
        });
    }
    await fill(tmp);
    options.faults?.write(dest);
    if (mountPoint) {
      await swapEntries(tmp, dest);
      await rm(tmp, { recursive: true, force: true });
      return;
    }
    if (existing !== undefined) {
      old = tempBeside(dest);
      await rename(dest, old);
    }
    await rename(tmp, dest);
  } catch (error) {
    const failure = await outputError(dest, error, options.signal);
    // The old directory goes back if the swap stopped halfway.
    if (old !== undefined) await rename(old, dest).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw failure;
  }
  if (old !== undefined) await rm(old, { recursive: true, force: true }).catch(() => undefined);
}

/**
 * Moves the entries of a filled temp directory into `dest` when `dest` itself
 * cannot be renamed (a mount point): each old entry is renamed aside into `tmp` (its files are
 * hard-linked there anyway) and the new one into its place, so each name holds
 * its old or its new tree, never a half-written one.
 */
async function swapEntries(tmp: string, dest: string): Promise<void> {
  const aside = join(tmp, `.old-${randomBytes(4).toString('hex')}`);
  await mkdir(aside);
  for (const name of await readdir(tmp)) {
    if (join(tmp, name) === aside) continue;
    await rename(join(dest, name), join(aside, name)).catch((error: unknown) => {
      if (errnoCode(error) !== 'ENOENT') throw error;
    });
    await rename(join(tmp, name), join(dest, name));
  }
}

/** `.<name>.tbuild-<pid>-<random>` in dest's directory: hidden, and its writer's pid in the name. */
function tempBeside(dest: string): string {
  const name = `.${basename(dest)}.tbuild-${String(process.pid)}-${randomBytes(4).toString('hex')}`;
  return join(dirname(dest), name);
}

/**
 * An output's failure as the user sees it: a TbuildError from the store or an
 * exporter (a corrupt blob) as it is; a full disk as TB_DISK_FULL naming the
 * output's directory; anything else as TB_OUTPUT_WRITE with the system's words.
 */
async function outputError(dest: string, error: unknown, signal: AbortSignal): Promise<unknown> {
  if (isTbuildError(error)) return error;
  if (signal.aborted) return signal.reason ?? error;
  const code = errnoCode(error);
  const why = error instanceof Error ? error.message : String(error);
  if (code === 'ENOSPC' || code === 'EDQUOT' || (code === undefined && (await nearlyFull(dest))))
    return new TbuildError(
      'TB_DISK_FULL',
      `cannot write output ${dest}: the disk is full (${why})`,
      {
        hint: `free space on the filesystem of ${dirname(dest)}, or write the output elsewhere; if it holds the tbuild root, \`tbuild prune\` removes build cache`,
        details: { path: dest, errno: code },
        cause: error,
      },
    );
  return new TbuildError('TB_OUTPUT_WRITE', `cannot write output ${dest}: ${why}`, {
    ...(code === 'EIO'
      ? { hint: `the disk holding ${dirname(dest)} reported an I/O error: check it (dmesg)` }
      : {}),
    details: { path: dest, errno: code },
    cause: error,
  });
}

/** A system error's code (ENOSPC); a child process's failure has a number there instead. */
function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** cp and tar report a full disk only in words: the filesystem's free space says it instead. */
async function nearlyFull(dest: string): Promise<boolean> {
  try {
    const stats = await statfs(dirname(dest));
    return stats.bavail * stats.bsize < NEARLY_FULL_BYTES;
  } catch {
    return false;
  }
}
