import { resolve } from 'node:path';
import { loadImageArchive, openEngine, unpackImage } from '../../worker/index.js';
import { resolveRoot } from '../../builder/index.js';
import {
  formatFlagHelp,
  HELP_FLAG,
  parseFlags,
  ROOT_FLAG,
  usage,
  type FlagSpec,
} from '../flags.js';

const FLAGS: readonly FlagSpec[] = [
  {
    name: 'input',
    short: 'i',
    type: 'string',
    value: 'FILE',
    description: 'Read from a tar archive file (or give it as the argument)',
  },
  ROOT_FLAG,
  { name: 'quiet', short: 'q', type: 'boolean', description: 'Suppress the load output' },
  HELP_FLAG,
];

const HELP = `Usage: tbuild load [OPTIONS] FILE

Load an image from a docker archive (docker save) or an OCI layout tar into the local image store.

Options:
${formatFlagHelp(FLAGS)}`;

export async function runLoad(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  const file = flags.strings.get('input') ?? flags.positionals[0];
  if (file === undefined || flags.positionals.length > 1)
    throw usage('"tbuild load" requires exactly 1 archive file', "run 'tbuild load --help'");
  const engine = await openEngine({
    root: resolveRoot(flags.strings.get('root'), process.env),
    excluder: () => () => false,
  });
  try {
    const signal = AbortSignal.timeout(30 * 60_000);
    const loaded = await loadImageArchive(engine.store, resolve(file), signal);
    // Unpacked now, as docker load does, so the first build FROM them starts at once.
    for (const image of loaded) {
      if (image.name !== undefined) await unpackImage(engine, image.name, { signal });
    }
    if (flags.booleans.get('quiet') !== true) {
      for (const image of loaded) {
        console.log(
          image.name === undefined
            ? `Loaded image ID: ${image.manifest.digest}`
            : `Loaded image: ${image.name}`,
        );
      }
    }
    return 0;
  } finally {
    await engine.close();
  }
}
