import { TbuildError } from '../../core/index.js';
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
import { findImages, listNamedImages } from './image-lookup.js';
import { formatTable, humanDuration, humanSize } from './units.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'no-trunc', type: 'boolean', description: "Don't truncate output" },
  { name: 'quiet', short: 'q', type: 'boolean', description: 'Only show image IDs' },
  {
    name: 'human',
    short: 'H',
    type: 'boolean',
    description: 'Print sizes and dates in human readable format (default true)',
  },
  {
    name: 'format',
    type: 'string',
    value: 'string',
    description: "Format output: 'table' (default), 'json' or a Go template ('{{.CreatedBy}}')",
  },
  ROOT_FLAG,
  HELP_FLAG,
];

const HELP = `Usage: tbuild image history [OPTIONS] IMAGE
       tbuild history [OPTIONS] IMAGE

Show the history of an image of the local image store, newest step first, as
docker image history does. SIZE is the stored (compressed) size of the layer a
step made, 0B for steps that made none; IMAGE is the image ID on the newest
step and <missing> on the others, as docker shows for built images.

Options:
${formatFlagHelp(FLAGS)}`;

/** docker's stringutils.Ellipsis for CREATED BY without --no-trunc. */
const CREATED_BY_WIDTH = 45;

export async function runImageHistory(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  const [wanted, ...extra] = flags.positionals;
  if (wanted === undefined || extra.length > 0)
    throw usage('"tbuild image history" requires exactly 1 argument');
  const format = flags.strings.get('format') ?? 'table';
  if (format !== 'table' && format !== 'json' && !format.includes('{{'))
    throw usage(`unsupported --format "${format}"`, 'use table, json or a Go template');
  const signal = AbortSignal.timeout(5 * 60_000);
  const { store } = await openMaintenance({
    root: resolveRoot(flags.strings.get('root'), process.env),
    signal,
  });
  const [entry] = findImages(await listNamedImages(store, signal), wanted);
  const image = entry?.image;
  if (entry === undefined || image === undefined)
    throw new TbuildError('TB_IMAGE_INVALID', `image ${wanted} cannot be read from the store`);
  const noTrunc = flags.booleans.get('no-trunc') === true;
  const human = flags.booleans.get('human') ?? true;
  const now = Date.now();
  // History entries that made a layer take the image's layers in order, oldest first.
  let layer = 0;
  const steps = (image.config.history ?? []).map((step) => {
    const size = step.empty_layer === true ? 0 : (image.layers[layer++]?.size ?? 0);
    return { step, size };
  });
  const rows = steps.reverse().map(({ step, size }, index) => {
    const created = step.created === undefined ? Number.NaN : Date.parse(step.created);
    const createdBy = (step.created_by ?? '').replaceAll('\t', ' ');
    const id = index === 0 ? entry.id : '<missing>';
    return {
      ID: noTrunc || index > 0 ? id : id.slice('sha256:'.length, 'sha256:'.length + 12),
      CreatedSince: Number.isNaN(created) ? 'N/A' : `${humanDuration(now - created)} ago`,
      CreatedAt: step.created ?? '',
      CreatedBy:
        noTrunc || createdBy.length <= CREATED_BY_WIDTH
          ? createdBy
          : `${createdBy.slice(0, CREATED_BY_WIDTH - 1)}…`,
      Size: human ? humanSize(size) : String(size),
      Comment: step.comment ?? '',
    };
  });
  if (flags.booleans.get('quiet') === true) {
    for (const row of rows) console.log(row.ID);
  } else if (format === 'table') {
    console.log(
      formatTable([
        ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
        ...rows.map((row) => [
          row.ID,
          human ? row.CreatedSince : row.CreatedAt,
          row.CreatedBy,
          row.Size,
          row.Comment,
        ]),
      ]),
    );
  } else {
    for (const row of rows)
      console.log(
        format === 'json' ? JSON.stringify(row) : renderGoTemplate(format, row, '--format'),
      );
  }
  return 0;
}
