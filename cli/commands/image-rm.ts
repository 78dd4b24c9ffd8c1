import { formatError, TbuildError, toTbuildError } from '../../core/index.js';
import { openMaintenance } from '../../worker/index.js';
import { resolveRoot } from '../../builder/index.js';
import {
  formatFlagHelp,
  HELP_FLAG,
  parseFlags,
  ROOT_FLAG,
  usage,
  type FlagSpec,
} from '../flags.js';
import { findImages, listNamedImages, splitName, type NamedImage } from './image-lookup.js';

const FLAGS: readonly FlagSpec[] = [
  {
    name: 'force',
    short: 'f',
    type: 'boolean',
    description: 'Remove every name of an image given by ID; ignore images that do not exist',
  },
  ROOT_FLAG,
  HELP_FLAG,
];

const HELP = `Usage: tbuild image rm [OPTIONS] IMAGE [IMAGE...]
       tbuild rmi [OPTIONS] IMAGE [IMAGE...]

Remove names from the local image store, as docker image rm does. IMAGE is a
name (busybox, demo/app:v1) or an image ID. "Deleted" means no name points at
the image any more; its blobs are freed by the next tbuild prune, unless the
build cache still uses them.

Options:
${formatFlagHelp(FLAGS)}`;

export async function runImageRm(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  if (flags.positionals.length === 0)
    throw usage('"tbuild image rm" requires at least 1 argument', "run 'tbuild image rm --help'");
  const force = flags.booleans.get('force') === true;
  const signal = AbortSignal.timeout(5 * 60_000);
  const { store } = await openMaintenance({
    root: resolveRoot(flags.strings.get('root'), process.env),
    signal,
  });
  let failed = false;
  for (const wanted of flags.positionals) {
    try {
      // Listed again for each argument: an earlier one may have removed names.
      const all = await listNamedImages(store, signal);
      const untag = chooseNames(findImages(all, wanted), wanted, force);
      for (const entry of untag) {
        await store.images.delete(entry.name);
        const { repository, tag } = splitName(entry.name);
        console.log(`Untagged: ${repository}:${tag}`);
      }
      const id = untag[0]?.id;
      const gone = new Set(untag.map((entry) => entry.name));
      if (id !== undefined && !all.some((entry) => entry.id === id && !gone.has(entry.name))) {
        console.log(`Deleted: ${id}`);
      }
    } catch (error) {
      const tbuildError = toTbuildError(error);
      if (force && tbuildError.code === 'TB_IMAGE_NOT_FOUND') continue;
      // Each argument is tried, as docker rmi does; the exit code says one failed.
      console.error(formatError(tbuildError));
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

/** A name untags itself; an ID with several names needs -f, as docker's "must be forced". */
function chooseNames(matched: NamedImage[], wanted: string, force: boolean): NamedImage[] {
  const byName = matched.length === 1 || matched.every((entry) => entry.name === matched[0]?.name);
  if (byName || force) return matched;
  throw new TbuildError(
    'TB_IMAGE_CONFLICT',
    `conflict: unable to delete ${wanted} (must be forced) - image is referenced in multiple repositories`,
    { hint: 'remove the names one by one, or give -f to remove them all' },
  );
}
