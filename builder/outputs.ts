import type { Writable } from 'node:stream';
import { TbuildError, type Descriptor, type Digest } from '../core/index.js';
import {
  DirectorySink,
  normalizeImageName,
  isBuiltImage,
  pushableManifest,
  pushStoredImage,
  withReadView,
  writeDockerArchive,
  writeOciLayout,
  type Engine,
  type ImageBundle,
  type PushResult,
  type RemoteBlobSource,
  type StoredImage,
  type WorkerRef,
} from '../worker/index.js';
import { loadIntoDocker, parseDockerHost } from './docker-daemon.js';
import type { OutputSpec } from './options.js';
import {
  copyTreeOutput,
  tarTreeOutput,
  writeArchiveOutput,
  writeDirectoryOutput,
} from './output-files.js';

/** Where an output reports its sub-tasks (an ExportStep); the default runs them unseen. */
export interface ExportTasks {
  task<T>(name: string, work: () => Promise<T>): Promise<T>;
}

const UNSEEN: ExportTasks = { task: (_name, work) => work() };

/** The step an output is shown as, as buildx names it. */
export function exportStepName(output: OutputSpec): string {
  switch (output.type) {
    case 'image':
      return 'exporting to image';
    case 'oci':
      return 'exporting to oci image format';
    case 'docker':
      return 'exporting to docker image format';
    case 'local':
      return 'exporting to client directory';
    case 'tar':
      return 'exporting to client tarball';
  }
}

/**
 * Writes one `-o` output. Image outputs take the image already stored (the
 * local store names it) and, where the bytes go somewhere (push, oci,
 * docker), its manifest and layer blobs already made (`bundle`); filesystem
 * outputs (local, tar) take the result's files.
 * `stdout` is where `dest=-` goes; without one, `dest=-` is refused.
 */
export async function writeOutput(options: {
  readonly output: OutputSpec;
  readonly engine: Engine;
  readonly result: WorkerRef;
  /** The image in the local store; image outputs need it. */
  readonly image?: StoredImage;
  /** Its manifest and blobs; oci, docker and pushing image outputs need them. */
  readonly bundle?: ImageBundle;
  /** Blobs of the image not in the content store (a remote cache hit): a push mounts them. */
  readonly remoteBlobs?: ReadonlyMap<Digest, RemoteBlobSource>;
  readonly names: readonly string[];
  /** Annotations of the manifest's descriptor, in an OCI or docker archive's index.json. */
  readonly descriptorAnnotations?: Readonly<Record<string, string>>;
  readonly stdout?: Writable;
  /**
   * DOCKER_HOST's value where `-o type=docker` without dest (`--load`) loads the
   * image; without one, such an output is refused (the service has no Docker).
   */
  readonly dockerHost?: string;
  /** Shows the output's sub-tasks (`naming to …`, `sending tarball`) with their times. */
  readonly tasks?: ExportTasks;
  readonly signal: AbortSignal;
}): Promise<readonly PushResult[]> {
  const { output, engine, signal } = options;
  const tasks = options.tasks ?? UNSEEN;
  // Files and directories are written beside dest and renamed in: whole or not at all.
  const files = { faults: engine.store.faults, signal };
  const names = [...options.names, ...output.names].map(normalizeImageName);
  const layout = {
    names,
    ...(options.descriptorAnnotations === undefined
      ? {}
      : { descriptorAnnotations: options.descriptorAnnotations }),
  };
  switch (output.type) {
    case 'image':
      if (output.push && names.length === 0) {
        throw new TbuildError('TB_USAGE', 'pushing an image needs a name', {
          hint: 'give one with -t NAME or -o type=image,name=NAME,push=true',
        });
      }
      {
        const image = required(options.image, 'image');
        // The image ID, as docker names it: the config's digest.
        await tasks.task(`writing image ${image.config.descriptor.digest}`, () =>
          Promise.resolve(),
        );
        // A push's manifest (made already) is kept with the names: its blobs stay made.
        const manifest = output.push ? required(options.bundle, 'bundle').manifest : undefined;
        for (const name of names)
          await tasks.task(`naming to ${name}`, () =>
            tagImages(engine, [name], image.target, manifest?.descriptor),
          );
        return manifest === undefined
          ? []
          : pushImages(engine, names, manifest.descriptor, signal, tasks, options.remoteBlobs);
      }
    case 'oci':
    case 'docker': {
      const bundle = required(options.bundle, 'bundle');
      const write = output.type === 'oci' ? writeOciLayout : writeDockerArchive;
      await tasks.task(`exporting manifest ${bundle.manifest.descriptor.digest}`, () =>
        Promise.resolve(),
      );
      await tasks.task(`exporting config ${bundle.config.descriptor.digest}`, () =>
        Promise.resolve(),
      );
      if (output.type === 'docker' && output.dest === undefined) {
        const address = parseDockerHost(dockerHost(options.dockerHost));
        await tasks.task('sending tarball', () =>
          loadIntoDocker(
            address,
            (body) => writeArchiveOutput(body, files, (tar) => write(bundle, tar, layout)),
            signal,
          ),
        );
        return [];
      }
      const dest = requireDest(output);
      if (!output.tar) {
        await tasks.task('writing to directory', () =>
          writeDirectoryOutput(dest, files, (dir) => write(bundle, new DirectorySink(dir), layout)),
        );
        return [];
      }
      await tasks.task('sending tarball', () =>
        writeArchiveOutput(dest === '-' ? standardOutput(options.stdout) : dest, files, (tar) =>
          write(bundle, tar, layout),
        ),
      );
      return [];
    }
    case 'local': {
      const dest = requireDest(output);
      await tasks.task('copying files', () =>
        withReadView(engine.store, options.result, signal, (dir) =>
          copyTreeOutput(dir, dest, files),
        ),
      );
      return [];
    }
    case 'tar': {
      const dest = requireDest(output);
      await tasks.task('sending tarball', () =>
        withReadView(engine.store, options.result, signal, (dir) =>
          tarTreeOutput(dir, dest === '-' ? standardOutput(options.stdout) : dest, files),
        ),
      );
      return [];
    }
  }
}

/** Points each name at `target`; `manifest`: one already made of it, kept with the name. */
export async function tagImages(
  engine: Engine,
  names: readonly string[],
  target: Descriptor,
  manifest?: Descriptor,
): Promise<void> {
  for (const name of names)
    await engine.store.images.put(name, target, manifest === undefined ? [] : [manifest]);
}

/**
 * Pushes a stored image under each name, one after the other (later names mount or skip
 * every blob). `image` is a manifest, or the target of an image built here: its manifest
 * is made first (and the layer blobs not made before), and each name keeps it.
 */
export async function pushImages(
  engine: Engine,
  names: readonly string[],
  image: Descriptor,
  signal: AbortSignal,
  tasks: ExportTasks = UNSEEN,
  remoteBlobs?: ReadonlyMap<Digest, RemoteBlobSource>,
): Promise<PushResult[]> {
  const client = engine.registryClient();
  if (client === undefined)
    throw new TbuildError('TB_INTERNAL', 'the engine was opened without registry settings');
  const manifest = isBuiltImage(image)
    ? await tasks.task('exporting layers', () =>
        pushableManifest(engine.store, engine.pool, image, names[0] ?? image.digest, signal),
      )
    : image;
  if (manifest !== image)
    for (const name of names) await engine.store.images.addManifest(name, image.digest, manifest);
  const pushed: PushResult[] = [];
  for (const name of names) {
    // The blobs and then the manifest, each shown as buildx shows it.
    let manifestDone: (() => void) | undefined;
    const blobsPushed = new Promise<void>((resolve) => (manifestDone = resolve));
    const push = pushStoredImage(engine.store, client, manifest, name, {
      signal,
      pool: engine.pool,
      onBlobsPushed: () => manifestDone?.(),
      ...(remoteBlobs === undefined ? {} : { remoteBlobs }),
    });
    await tasks.task('pushing layers', () => Promise.race([blobsPushed, push]));
    pushed.push(await tasks.task(`pushing manifest for ${name}@${manifest.digest}`, () => push));
  }
  return pushed;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new TbuildError('TB_INTERNAL', `an image output without its ${what}`);
  return value;
}

function requireDest(output: OutputSpec): string {
  if (output.dest === undefined)
    throw new TbuildError('TB_USAGE', `--output type=${output.type} needs dest=PATH`);
  return output.dest;
}

function dockerHost(host: string | undefined): string {
  if (host === undefined)
    throw new TbuildError(
      'TB_USAGE',
      '--load (-o type=docker without dest) is not available for this build',
      {
        hint: 'give the output a file as dest: -o type=docker,dest=FILE',
      },
    );
  return host;
}

function standardOutput(stdout: Writable | undefined): Writable {
  if (stdout === undefined)
    throw new TbuildError('TB_USAGE', 'dest=- (standard output) is not available for this build', {
      hint: 'give the output a file or directory as dest',
    });
  return stdout;
}
