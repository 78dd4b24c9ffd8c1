import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Writable } from 'node:stream';
import { TbuildError, type Descriptor } from '../core/index.js';
import {
  DeterministicTar,
  DirectorySink,
  normalizeImageName,
  pushStoredImage,
  withReadView,
  writeDockerArchive,
  writeOciLayout,
  type Engine,
  type ImageBundle,
  type PushResult,
  type WorkerRef,
} from '../worker/index.js';
import type { OutputSpec } from './options.js';

const run = promisify(execFile);

/**
 * Writes one `-o` output. Image outputs (image, oci, docker) take the bundle
 * already stored; filesystem outputs (local, tar) take the result's files.
 * `stdout` is where `dest=-` goes; without one, `dest=-` is refused.
 */
export async function writeOutput(options: {
  readonly output: OutputSpec;
  readonly engine: Engine;
  readonly result: WorkerRef;
  readonly bundle: ImageBundle;
  readonly names: readonly string[];
  readonly stdout?: Writable;
  readonly signal: AbortSignal;
}): Promise<readonly PushResult[]> {
  const { output, engine, bundle, signal } = options;
  const names = [...options.names, ...output.names].map(normalizeImageName);
  switch (output.type) {
    case 'image':
      if (output.push && names.length === 0) {
        throw new TbuildError('TB_USAGE', 'pushing an image needs a name', {
          hint: 'give one with -t NAME or -o type=image,name=NAME,push=true',
        });
      }
      await tagImages(engine, names, bundle.manifest.descriptor);
      return output.push ? pushImages(engine, names, bundle.manifest.descriptor, signal) : [];
    case 'oci':
    case 'docker': {
      const write = output.type === 'oci' ? writeOciLayout : writeDockerArchive;
      const dest = requireDest(output);
      if (!output.tar) {
        await write(bundle, new DirectorySink(dest), { names });
        return [];
      }
      const tar = await DeterministicTar.create();
      const done = pipeline(
        tar.stream,
        dest === '-' ? standardOutput(options.stdout) : createWriteStream(dest),
      );
      await write(bundle, tar, { names });
      tar.finalize();
      await done;
      return [];
    }
    case 'local': {
      const dest = requireDest(output);
      await mkdir(dest, { recursive: true });
      await withReadView(engine.store, options.result, signal, async (dir) => {
        await run('cp', ['-a', '--', `${dir}/.`, `${dest}/`], { signal });
      });
      return [];
    }
    case 'tar': {
      const dest = requireDest(output);
      await withReadView(engine.store, options.result, signal, async (dir) => {
        // Entries named as BuildKit's tar exporter names them: `etc/passwd`, no `./` root.
        const entries = (await readdir(dir)).sort();
        const files = entries.length > 0 ? ['--', ...entries] : ['-T', '/dev/null'];
        const child = spawn(
          'tar',
          ['-C', dir, '--numeric-owner', '--sort=name', '-cf', '-', ...files],
          {
            signal,
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        await pipeline(
          child.stdout,
          dest === '-' ? standardOutput(options.stdout) : createWriteStream(dest),
        );
      });
      return [];
    }
  }
}

export async function tagImages(
  engine: Engine,
  names: readonly string[],
  manifest: Descriptor,
): Promise<void> {
  for (const name of names) await engine.store.images.put(name, manifest);
}

/** Pushes a stored image under each name, one after the other (later names mount or skip every blob). */
export async function pushImages(
  engine: Engine,
  names: readonly string[],
  manifest: Descriptor,
  signal: AbortSignal,
): Promise<PushResult[]> {
  const client = engine.registryClient();
  if (client === undefined)
    throw new TbuildError('TB_INTERNAL', 'the engine was opened without registry settings');
  const pushed: PushResult[] = [];
  for (const name of names)
    pushed.push(await pushStoredImage(engine.store, client, manifest, name, { signal }));
  return pushed;
}

function requireDest(output: OutputSpec): string {
  if (output.dest === undefined)
    throw new TbuildError('TB_USAGE', `--output type=${output.type} needs dest=PATH`);
  return output.dest;
}

function standardOutput(stdout: Writable | undefined): Writable {
  if (stdout === undefined)
    throw new TbuildError('TB_USAGE', 'dest=- (standard output) is not available for this build', {
      hint: 'give the output a file or directory as dest',
    });
  return stdout;
}
