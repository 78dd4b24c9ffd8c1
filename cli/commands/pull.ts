import { TbuildError } from '../../core/index.js';
import { openEngine, unpackImage, type Engine } from '../../worker/index.js';
import { registrySettings, resolveRoot } from '../../builder/index.js';
import {
  formatFlagHelp,
  HELP_FLAG,
  parseFlags,
  ROOT_FLAG,
  usage,
  type FlagSpec,
} from '../flags.js';

export const REGISTRY_COMMAND_FLAGS: readonly FlagSpec[] = [
  ROOT_FLAG,
  { name: 'quiet', short: 'q', type: 'boolean', description: 'Print only the image name' },
  HELP_FLAG,
];

const HELP = `Usage: tbuild pull [OPTIONS] NAME[:TAG|@DIGEST]

Pull an image (linux/amd64) from a registry into the local image store.

Options:
${formatFlagHelp(REGISTRY_COMMAND_FLAGS)}`;

/** Runs `use` on an engine with registry access, stopped by Ctrl-C. */
export async function withRegistryEngine<T>(
  root: string | undefined,
  use: (engine: Engine, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const interrupt = (): void => {
    controller.abort(new TbuildError('TB_CANCELED', 'canceled by the user'));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const engine = await openEngine({
    root: resolveRoot(root, process.env),
    excluder: () => () => false,
    registry: registrySettings(process.env),
  });
  try {
    return await use(engine, controller.signal);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await engine.close();
  }
}

export async function runPull(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, REGISTRY_COMMAND_FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  const [name, ...extra] = flags.positionals;
  if (name === undefined || extra.length > 0)
    throw usage('"tbuild pull" requires exactly 1 argument: the image name');
  const quiet = flags.booleans.get('quiet') === true;
  return withRegistryEngine(flags.strings.get('root'), async (engine, signal) => {
    const puller = engine.puller;
    if (puller === undefined) throw new TbuildError('TB_INTERNAL', 'no registry access');
    const image = await puller.resolve(name, signal);
    const present = await Promise.all(
      image.layers.map(
        async (layer) => (await engine.store.content.info(layer.digest)) !== undefined,
      ),
    );
    const say = (line: string): void => {
      if (!quiet) console.error(line);
    };
    image.layers.forEach((layer, index) => {
      if (present[index] === true) say(`${short(layer.digest)}: Already exists`);
    });
    await Promise.all(
      puller.fetchLayers(image, image.layers, {
        signal,
        onProgress: (digest, _current, _total, completed) => {
          if (completed) say(`${short(digest)}: Pull complete`);
        },
      }),
    );
    // Unpacked now, as docker pull does, so the first build FROM it starts at once.
    await unpackImage(engine, image.name, { signal });
    say(`Digest: ${image.manifestDigest}`);
    console.log(image.name);
    return 0;
  });
}

/** The first 12 hex digits, as docker shows layer ids. */
export function short(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
