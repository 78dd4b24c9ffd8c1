import { toTbuildError } from '../../core/index.js';
import { openMaintenance, readLocalImage, type LocalImage } from '../../worker/index.js';
import { resolveRoot } from '../../builder/index.js';
import {
  formatFlagHelp,
  HELP_FLAG,
  parseFlags,
  ROOT_FLAG,
  usage,
  type FlagSpec,
} from '../flags.js';
import { formatTable, humanDuration, humanSize } from './units.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'quiet', short: 'q', type: 'boolean', description: 'Only show image IDs' },
  { name: 'no-trunc', type: 'boolean', description: "Don't truncate output" },
  {
    name: 'format',
    type: 'string',
    value: 'string',
    description: "Format output: 'table' (default) or 'json' (one object per line)",
  },
  ROOT_FLAG,
  HELP_FLAG,
];

const HELP = `Usage: tbuild images [OPTIONS] [REPOSITORY[:TAG]]

List the images of the local image store, as docker images does.
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
  if (format !== 'table' && format !== 'json')
    throw usage(`unsupported --format "${format}"`, 'use table or json');
  const signal = AbortSignal.timeout(5 * 60_000);
  const { store } = await openMaintenance({
    root: resolveRoot(flags.strings.get('root'), process.env),
    signal,
  });
  const rows: Row[] = [];
  for (const record of await store.images.list()) {
    let image: LocalImage | undefined;
    try {
      image = await readLocalImage(store, record.name, signal);
    } catch (error) {
      // An image whose blobs were damaged is still listed, so it can be seen and replaced.
      console.error(`WARNING: ${record.name}: ${toTbuildError(error).message}`);
    }
    const { repository, tag } = splitName(record.name);
    const created =
      image?.config.created === undefined ? undefined : Date.parse(image.config.created);
    rows.push({
      repository,
      tag,
      id: image?.configDescriptor.digest ?? record.target.digest,
      digest: record.target.digest,
      created: created === undefined || Number.isNaN(created) ? undefined : created,
      size:
        (image?.layers.reduce((sum, layer) => sum + layer.size, 0) ?? 0) +
        (image?.configDescriptor.size ?? 0),
    });
  }
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
  if (format === 'json') {
    for (const row of shown) {
      console.log(
        JSON.stringify({
          Repository: row.repository,
          Tag: row.tag,
          ID: shortId(row.id),
          Digest: row.digest,
          CreatedAt: row.created === undefined ? '' : new Date(row.created).toISOString(),
          CreatedSince: since(row),
          Size: humanSize(row.size),
        }),
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

/** `docker.io/library/busybox:latest` → `busybox` + `latest`, as docker shows names. */
function splitName(name: string): { repository: string; tag: string } {
  const at = name.indexOf('@');
  const withoutDigest = at < 0 ? name : name.slice(0, at);
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > withoutDigest.lastIndexOf('/');
  const repository = (hasTag ? withoutDigest.slice(0, colon) : withoutDigest)
    .replace(/^docker\.io\/library\//, '')
    .replace(/^docker\.io\//, '');
  return { repository, tag: hasTag ? withoutDigest.slice(colon + 1) : '<none>' };
}

function matches(row: Row, wanted: string): boolean {
  const { repository, tag } = splitName(wanted);
  return repository === row.repository && (tag === '<none>' || tag === row.tag);
}
