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
import { listNamedImages, splitName, storedSize } from './image-lookup.js';
import { formatTable, humanDuration, humanSize } from './units.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'quiet', short: 'q', type: 'boolean', description: 'Only show image IDs' },
  { name: 'no-trunc', type: 'boolean', description: "Don't truncate output" },
  {
    name: 'format',
    type: 'string',
    value: 'string',
    description:
      "Format output: 'table' (default), 'json' (one object per line) or a Go template ('{{json .}}', '{{.ID}}')",
  },
  ROOT_FLAG,
  HELP_FLAG,
];

const HELP = `Usage: tbuild images [OPTIONS] [REPOSITORY[:TAG]]
       tbuild image ls [OPTIONS] [REPOSITORY[:TAG]]

List the images of the local image store, as docker image ls does.
SIZE is the compressed size of the image's layers and config.

Options:
${formatFlagHelp(FLAGS)}`;

interface Row {
  readonly repository: string;
  readonly tag: string;
  readonly id: string;
  readonly digest: string;
  readonly created: number | undefined;
  readonly size: number;
}

export async function runImages(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  if (flags.positionals.length > 1)
    throw usage('"tbuild images" accepts at most 1 argument', "run 'tbuild images --help'");
  const format = flags.strings.get('format') ?? 'table';
  if (format !== 'table' && format !== 'json' && !format.includes('{{'))
    throw usage(
      `unsupported --format "${format}"`,
      "use table, json or a Go template ('{{json .}}')",
    );
  const signal = AbortSignal.timeout(5 * 60_000);
  const { store } = await openMaintenance({
    root: resolveRoot(flags.strings.get('root'), process.env),
    signal,
  });
  const rows: Row[] = (await listNamedImages(store, signal)).map((entry) => {
    const { repository, tag } = splitName(entry.name);
    const created =
      entry.image?.config.created === undefined
        ? undefined
        : Date.parse(entry.image.config.created);
    return {
      repository,
      tag,
      id: entry.id,
      // docker's <none>: an image built here that no push gave a manifest yet.
      digest: entry.manifestDigest ?? '<none>',
      created: created === undefined || Number.isNaN(created) ? undefined : created,
      size: storedSize(entry.image),
    };
  });
  const wanted = flags.positionals[0];
  const shown = rows
    .filter((row) => wanted === undefined || matches(row, wanted))
    .sort(
      (a, b) => (b.created ?? 0) - (a.created ?? 0) || a.repository.localeCompare(b.repository),
    );
  const noTrunc = flags.booleans.get('no-trunc') === true;
  const shortId = (id: string): string => (noTrunc ? id : id.replace(/^sha256:/, '').slice(0, 12));
  const now = Date.now();
  if (flags.booleans.get('quiet') === true) {
    // One line per row, as docker prints an image once for each of its tags.
    for (const row of shown) console.log(shortId(row.id));
    return 0;
  }
  const since = (row: Row): string =>
    row.created === undefined ? 'N/A' : `${humanDuration(now - row.created)} ago`;
  if (format !== 'table') {
    for (const row of shown) {
      // The fields of docker image ls --format '{{json .}}'.
      const fields = {
        Containers: 'N/A',
        CreatedAt: row.created === undefined ? '' : new Date(row.created).toISOString(),
        CreatedSince: since(row),
        Digest: row.digest,
        ID: shortId(row.id),
        Repository: row.repository,
        SharedSize: 'N/A',
        Size: humanSize(row.size),
        Tag: row.tag,
        UniqueSize: 'N/A',
        VirtualSize: humanSize(row.size),
      };
      console.log(
        format === 'json' ? JSON.stringify(fields) : renderGoTemplate(format, fields, '--format'),
      );
    }
    return 0;
  }
  console.log(
    formatTable([
      ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
      ...shown.map((row) => [
        row.repository,
        row.tag,
        shortId(row.id),
        since(row),
        humanSize(row.size),
      ]),
    ]),
  );
  return 0;
}

function matches(row: Row, wanted: string): boolean {
  const { repository, tag } = splitName(wanted);
  return repository === row.repository && (tag === '<none>' || tag === row.tag);
}
