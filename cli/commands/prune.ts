import { createInterface } from 'node:readline/promises';
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
import { formatTable, humanDuration, humanSize, parseDuration, parseSize } from './units.js';

const FLAGS: readonly FlagSpec[] = [
  {
    name: 'all',
    short: 'a',
    type: 'boolean',
    description: 'Include cache mounts (RUN --mount=type=cache), as buildx prune --all does',
  },
  {
    name: 'filter',
    type: 'list',
    value: 'filter',
    description: 'Provide filter values (until=DURATION: not used for that long, e.g. 24h)',
  },
  {
    name: 'keep-storage',
    type: 'string',
    value: 'bytes',
    description: 'Amount of disk space to keep for cache (e.g. 10GB, 512MB)',
  },
  { name: 'force', short: 'f', type: 'boolean', description: 'Do not prompt for confirmation' },
  { name: 'verbose', type: 'boolean', description: 'Provide a more verbose output' },
  ROOT_FLAG,
  HELP_FLAG,
];

const HELP = `Usage: tbuild prune [OPTIONS]

Remove build cache, as docker buildx prune does. Images in the local image
store and everything a running build holds are kept.

Without --filter or --keep-storage every cache record goes; with them, records
not used for DURATION go first, then the least recently used ones until the
cache fits in --keep-storage. Cache mounts go only with --all (filtered by
until=), and only while no build is running on this root.

What was removed is listed as buildx lists it (ID, RECLAIMABLE, SIZE and LAST
ACCESSED as tbuild du showed them), then Total: the bytes freed on disk.

Options:
${formatFlagHelp(FLAGS)}`;

export async function runPrune(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  if (flags.positionals.length > 0) throw usage('"tbuild prune" accepts no arguments');
  let until: number | undefined;
  for (const filter of flags.lists.get('filter') ?? []) {
    const equals = filter.indexOf('=');
    const key = filter.slice(0, equals);
    if (equals < 0 || (key !== 'until' && key !== 'unused-for')) {
      throw usage(`invalid filter "${filter}"`, 'supported: until=DURATION (e.g. until=24h)');
    }
    until = parseDuration(filter.slice(equals + 1), `--filter ${key}`);
  }
  const keepText = flags.strings.get('keep-storage');
  const keepStorage = keepText === undefined ? undefined : parseSize(keepText, '--keep-storage');
  const all = flags.booleans.get('all') === true;
  const controller = new AbortController();
  // Opening cleans what dead processes left (their mounts too): only debris, so it is
  // done even when the user then declines to remove cache.
  const maintenance = await openMaintenance({
    root: resolveRoot(flags.strings.get('root'), process.env),
    signal: controller.signal,
  });
  if (flags.booleans.get('force') !== true && !(await confirm(all))) return 0;

  // What there was before, to list what is gone after (a build may add records meanwhile).
  const before = await maintenance.store.diskUsage(controller.signal);
  const mountsBefore = all ? await maintenance.cacheMounts(controller.signal) : [];
  const stop = (): void => {
    controller.abort();
  };
  process.once('SIGINT', stop);
  try {
    const filtered = until !== undefined || keepStorage !== undefined;
    const report = await maintenance.store.prune({
      signal: controller.signal,
      ...(filtered ? {} : { all: true }),
      ...(until === undefined ? {} : { until }),
      ...(keepStorage === undefined ? {} : { keepStorage }),
    });
    const mounts = all
      ? await maintenance.pruneCacheMounts({
          signal: controller.signal,
          ...(until === undefined ? {} : { until }),
        })
      : undefined;
    if (mounts?.busy === true) {
      console.error('WARNING: a build is running on this root; cache mounts were kept');
    }
    const left = new Set(
      (await maintenance.store.records.list(controller.signal)).map((r) => r.key),
    );
    await maintenance.pruneExplanations(left);
    const mountsLeft = new Set(
      mounts === undefined || mounts.removed === 0
        ? mountsBefore.map((mount) => mount.id)
        : (await maintenance.cacheMounts(controller.signal)).map((mount) => mount.id),
    );
    const now = Date.now();
    const removed = [
      ...before.records
        .filter((record) => !left.has(record.key))
        .map((record) => ({
          id: digestHex(record.key).slice(0, 25),
          reclaimable: !record.chargedPinned,
          bytes: record.chargedBytes,
          lastUsedAt: record.lastUsedAt,
        })),
      ...mountsBefore
        .filter((mount) => !mountsLeft.has(mount.id))
        .map((mount) => ({
          id: mount.id.slice(0, 25),
          reclaimable: true,
          bytes: mount.bytes,
          lastUsedAt: mount.lastUsedAt,
        })),
    ];
    if (removed.length > 0) {
      console.log(
        formatTable([
          ['ID', 'RECLAIMABLE', 'SIZE', 'LAST ACCESSED'],
          ...removed.map((row) => [
            row.id,
            String(row.reclaimable),
            humanSize(row.bytes),
            `${humanDuration(now - row.lastUsedAt)} ago`,
          ]),
        ]),
      );
    }
    if (flags.booleans.get('verbose') === true) {
      console.log(`Deleted cache records:   ${String(report.records)}`);
      console.log(`Deleted blobs:           ${String(report.blobs)}`);
      console.log(`Deleted snapshots:       ${String(report.snapshots)}`);
      if (mounts !== undefined) console.log(`Deleted cache mounts:    ${String(mounts.removed)}`);
    }
    console.log(`Total:\t${humanSize(report.reclaimedBytes + (mounts?.bytes ?? 0))}`);
    return 0;
  } finally {
    process.off('SIGINT', stop);
  }
}

async function confirm(all: boolean): Promise<boolean> {
  const what = all ? 'all build cache, cache mounts included' : 'all dangling build cache';
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  // End of input (stdin closed or /dev/null) answers no, as docker does.
  const closed = new Promise<string>((resolve) =>
    prompt.once('close', () => {
      resolve('');
    }),
  );
  try {
    const answer = await Promise.race([
      prompt.question(
        `WARNING! This will remove ${what}. Are you sure you want to continue? [y/N] `,
      ),
      closed,
    ]);
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    return false;
  } finally {
    prompt.close();
  }
}
