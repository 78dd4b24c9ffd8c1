import { digestHex } from '../../core/index.js';
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
import { formatTable, humanDuration, humanSize } from './units.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'verbose', type: 'boolean', description: 'Provide a more verbose output' },
  {
    name: 'format',
    type: 'string',
    value: 'string',
    description: "Format output: 'table' (default) or 'json' (one record per line, sizes in bytes)",
  },
  ROOT_FLAG,
  HELP_FLAG,
];

const HELP = `Usage: tbuild du [OPTIONS]

Show the disk usage of the build cache, as docker buildx du does. Each byte is
counted once, in the row of the most recently used record that holds it, so
the rows add up to Total, the shared and private rows to Shared and Private,
and the reclaimable rows to Reclaimable. IDs marked * share data with an image
or another record; RECLAIMABLE is true when prune --all frees all of the row's
SIZE (not held by a running build or an image). Cache mounts
(RUN --mount=type=cache) are listed as well.

Options:
${formatFlagHelp(FLAGS)}`;

interface UsageRow {
  readonly id: string;
  readonly shared: boolean;
  readonly reclaimable: boolean;
  readonly bytes: number;
  readonly lastUsedAt: number;
  readonly createdAt?: number;
  readonly type: string;
  readonly description?: string;
}

export async function runDu(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  if (flags.positionals.length > 0) throw usage('"tbuild du" accepts no arguments');
  const format = flags.strings.get('format') ?? 'table';
  if (format !== 'table' && format !== 'json')
    throw usage(`unsupported --format "${format}"`, 'use table or json');
  const signal = AbortSignal.timeout(10 * 60_000);
  const maintenance = await openMaintenance({
    root: resolveRoot(flags.strings.get('root'), process.env),
    signal,
  });
  const usageReport = await maintenance.store.diskUsage(signal);
  const mounts = await maintenance.cacheMounts(signal);
  const rows: UsageRow[] = [
    ...usageReport.records.map((record): UsageRow => ({
      id: digestHex(record.key).slice(0, 25),
      shared: record.shared,
      reclaimable: !record.inUse && !record.chargedPinned,
      bytes: record.chargedBytes,
      lastUsedAt: record.lastUsedAt,
      createdAt: record.createdAt,
      type: 'regular',
      ...(record.description === undefined ? {} : { description: record.description }),
    })),
    ...mounts.map((mount): UsageRow => ({
      id: mount.id.slice(0, 25),
      shared: false,
      reclaimable: true,
      bytes: mount.bytes,
      lastUsedAt: mount.lastUsedAt,
      type: 'exec.cachemount',
    })),
  ].sort((a, b) => b.bytes - a.bytes);
  const now = Date.now();
  const ago = (at: number): string => `${humanDuration(now - at)} ago`;
  if (format === 'json') {
    for (const row of rows) {
      console.log(
        JSON.stringify({
          ID: row.id,
          Reclaimable: row.reclaimable,
          Shared: row.shared,
          Size: row.bytes,
          ...(row.description === undefined ? {} : { Description: row.description }),
          ...(row.createdAt === undefined
            ? {}
            : { CreatedAt: new Date(row.createdAt).toISOString() }),
          LastUsedAt: new Date(row.lastUsedAt).toISOString(),
          Type: row.type,
        }),
      );
    }
    return 0;
  }
  if (flags.booleans.get('verbose') === true) {
    for (const row of rows) {
      const fields: [string, string][] = [
        ['ID:', row.id],
        ['Reclaimable:', String(row.reclaimable)],
        ['Shared:', String(row.shared)],
        ['Size:', humanSize(row.bytes)],
        ...(row.description === undefined
          ? []
          : [['Description:', row.description] as [string, string]]),
        ...(row.createdAt === undefined
          ? []
          : [['Created at:', new Date(row.createdAt).toISOString()] as [string, string]]),
        ['Last used:', ago(row.lastUsedAt)],
        ['Type:', row.type],
      ];
      console.log(`${formatTable(fields)}\n`);
    }
  } else if (rows.length > 0) {
    console.log(
      formatTable([
        ['ID', 'RECLAIMABLE', 'SIZE', 'LAST ACCESSED'],
        ...rows.map((row) => [
          `${row.id}${row.shared ? '*' : ''}`,
          String(row.reclaimable),
          humanSize(row.bytes),
          ago(row.lastUsedAt),
        ]),
      ]),
    );
  }
  // As buildx's summary: every total is a sum of the rows above it.
  const sum = (chosen: readonly UsageRow[]): number =>
    chosen.reduce((total, row) => total + row.bytes, 0);
  const total = sum(rows);
  const shared = sum(rows.filter((row) => row.shared));
  console.log(
    formatTable([
      ...(shared > 0
        ? [
            ['Shared:', humanSize(shared)],
            ['Private:', humanSize(total - shared)],
          ]
        : []),
      ['Reclaimable:', humanSize(sum(rows.filter((row) => row.reclaimable)))],
      ['Total:', humanSize(total)],
    ]),
  );
  return 0;
}
