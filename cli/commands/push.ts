import { TbuildError } from '../../core/index.js';
import { normalizeImageName } from '../../worker/index.js';
import { pushImages } from '../../builder/index.js';
import { formatFlagHelp, parseFlags, usage } from '../flags.js';
import { REGISTRY_COMMAND_FLAGS, short, withRegistryEngine } from './pull.js';

const HELP = `Usage: tbuild push [OPTIONS] NAME[:TAG] [TARGET[:TAG]]

Push an image of the local image store to its registry (to TARGET when given).

Options:
${formatFlagHelp(REGISTRY_COMMAND_FLAGS)}`;

const SAID = { exists: 'Layer already exists', mounted: 'Mounted', uploaded: 'Pushed' } as const;

export async function runPush(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, REGISTRY_COMMAND_FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  const [name, target, ...extra] = flags.positionals;
  if (name === undefined || extra.length > 0)
    throw usage('"tbuild push" requires 1 or 2 arguments: the image name and a target name');
  const quiet = flags.booleans.get('quiet') === true;
  return withRegistryEngine(flags.strings.get('root'), async (engine, signal) => {
    const normalized = normalizeImageName(name);
    const record = await engine.store.images.get(normalized);
    if (record === undefined) {
      throw new TbuildError(
        'TB_IMAGE_NOT_FOUND',
        `image ${normalized} is not in the local image store`,
        {
          hint: 'build it with -t NAME, pull it or load it first',
        },
      );
    }
    const destination = normalizeImageName(target ?? name);
    // Like `docker tag` then `docker push`: the target name now names the image here too.
    if (destination !== normalized)
      await engine.store.images.put(destination, record.target, record.manifests);
    const [pushed] = await pushImages(engine, [destination], record.target, signal);
    if (pushed === undefined) return 1;
    // The manifest made of an image built here is kept by its own name too (its blobs stay).
    if (destination !== normalized)
      await engine.store.images.addManifest(normalized, record.target.digest, pushed.manifest);
    if (!quiet) {
      for (const [digest, result] of pushed.blobs)
        console.error(`${short(digest)}: ${SAID[result]}`);
      console.error(`${destination}: digest: ${pushed.digest}`);
    }
    console.log(quiet ? pushed.digest : `${destination}@${pushed.digest}`);
    return 0;
  });
}
