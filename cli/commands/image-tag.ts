import { TbuildError } from '../../core/index.js';
import { normalizeImageName, openMaintenance } from '../../worker/index.js';
import { resolveRoot } from '../../builder/index.js';
import {
  formatFlagHelp,
  HELP_FLAG,
  parseFlags,
  ROOT_FLAG,
  usage,
  type FlagSpec,
} from '../flags.js';
import { findImages, listNamedImages } from './image-lookup.js';

const FLAGS: readonly FlagSpec[] = [ROOT_FLAG, HELP_FLAG];

const HELP = `Usage: tbuild image tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]
       tbuild tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]

Create a name TARGET_IMAGE that refers to SOURCE_IMAGE (a name or an image ID)
in the local image store, as docker image tag does. An existing TARGET_IMAGE
is moved to the new image.

Options:
${formatFlagHelp(FLAGS)}`;

export async function runImageTag(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  const [source, target, ...extra] = flags.positionals;
  if (source === undefined || target === undefined || extra.length > 0)
    throw usage('"tbuild image tag" requires exactly 2 arguments', "run 'tbuild image tag --help'");
  let targetName: string;
  try {
    targetName = normalizeImageName(target);
  } catch (error) {
    throw new TbuildError('TB_USAGE', `invalid target image name "${target}"`, {
      hint: 'use NAME[:TAG] with a lowercase name, e.g. myapp:v1',
      cause: error,
    });
  }
  if (targetName.includes('@'))
    throw usage(`invalid target image name "${target}": a tag cannot hold a digest`);
  const signal = AbortSignal.timeout(5 * 60_000);
  const { store } = await openMaintenance({
    root: resolveRoot(flags.strings.get('root'), process.env),
    signal,
  });
  const [found] = findImages(await listNamedImages(store, signal), source);
  if (found === undefined) throw new TbuildError('TB_INTERNAL', 'findImages returned nothing');
  const record = await store.images.resolve(found.name);
  await store.images.put(targetName, record.target, record.manifests);
  return 0;
}
