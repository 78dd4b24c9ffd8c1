import { formatError, toTbuildError } from '../../core/index.js';
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
import { renderGoTemplate } from './go-template.js';
import {
  findImages,
  listNamedImages,
  splitName,
  storedSize,
  type NamedImage,
} from './image-lookup.js';

const FLAGS: readonly FlagSpec[] = [
  {
    name: 'format',
    short: 'f',
    type: 'string',
    value: 'string',
    description: "Format output using a Go template ('{{.Id}}', '{{json .Config}}')",
  },
  ROOT_FLAG,
  HELP_FLAG,
];

const HELP = `Usage: tbuild image inspect [OPTIONS] IMAGE [IMAGE...]

Display detailed information on images of the local image store as a JSON
array, as docker image inspect does: Id (the config digest), RepoTags,
RepoDigests (each repository with the manifest digest), Created, Config,
Architecture, Os, Size (stored layers and config), RootFS and Metadata.

Options:
${formatFlagHelp(FLAGS)}`;

export async function runImageInspect(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  if (flags.positionals.length === 0)
    throw usage('"tbuild image inspect" requires at least 1 argument');
  const signal = AbortSignal.timeout(5 * 60_000);
  const { store } = await openMaintenance({
    root: resolveRoot(flags.strings.get('root'), process.env),
    signal,
  });
  const all = await listNamedImages(store, signal);
  const shown: Record<string, unknown>[] = [];
  let failed = false;
  for (const wanted of flags.positionals) {
    try {
      const [first] = findImages(all, wanted);
      if (first !== undefined) shown.push(describe(first, all));
    } catch (error) {
      console.error(formatError(toTbuildError(error)));
      failed = true;
    }
  }
  const format = flags.strings.get('format');
  if (format === undefined) console.log(JSON.stringify(shown, null, 4));
  else for (const image of shown) console.log(renderGoTemplate(format, image, '--format'));
  return failed ? 1 : 0;
}

/** The object docker image inspect prints for one image, from every name pointing at it. */
function describe(entry: NamedImage, all: readonly NamedImage[]): Record<string, unknown> {
  const names = all.filter((other) => other.id === entry.id);
  const tags = names.map((other) => splitName(other.name));
  const config = entry.image?.config;
  return {
    Id: entry.id,
    RepoTags: tags.map(({ repository, tag }) => `${repository}:${tag}`),
    RepoDigests: [
      ...new Set(
        names.flatMap((other) =>
          other.manifestDigest === undefined
            ? []
            : [`${splitName(other.name).repository}@${other.manifestDigest}`],
        ),
      ),
    ],
    Parent: '',
    Comment: config?.history?.at(-1)?.comment ?? '',
    Created: config?.created ?? '',
    DockerVersion: '',
    Author: config?.author ?? '',
    Config: config?.config ?? {},
    Architecture: config?.architecture ?? '',
    ...(config?.variant === undefined ? {} : { Variant: config.variant }),
    Os: config?.os ?? '',
    Size: storedSize(entry.image),
    RootFS: { Type: 'layers', Layers: config?.rootfs.diff_ids ?? [] },
    Metadata: {
      LastTagTime: new Date(Math.max(...names.map((other) => other.taggedAt))).toISOString(),
    },
  };
}
