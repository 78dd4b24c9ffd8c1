import {
  parseOptionalPositiveInteger,
  registrySettings,
  resolveRoot,
} from '../../builder/index.js';
import { loadServiceConfig, startService } from '../../daemon/index.js';
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
    name: 'listen',
    type: 'list',
    value: 'ADDR',
    description:
      'Address to serve: tcp://HOST:PORT or unix:///PATH, repeatable (default unix:///run/tbuild/tbuild.sock and tcp://127.0.0.1:8085)',
  },
  {
    name: 'grpc',
    type: 'list',
    value: 'ADDR',
    description:
      'Also serve the remote builder API (gRPC) for tbuild build --builder: tcp://HOST:PORT or unix:///PATH, repeatable',
  },
  ROOT_FLAG,
  {
    name: 'config',
    type: 'string',
    value: 'FILE',
    description: 'Service config file (JSON: tokens, limits, entitlements; docs/config.md)',
  },
  { name: 'tls-cert', type: 'string', value: 'FILE', description: 'TLS certificate (PEM)' },
  { name: 'tls-key', type: 'string', value: 'FILE', description: 'TLS private key (PEM)' },
  {
    name: 'tls-ca',
    type: 'string',
    value: 'FILE',
    description: 'CA whose client certificates are required (PEM)',
  },
  {
    name: 'max-concurrent-builds',
    type: 'string',
    value: 'N',
    description: 'Builds that run at once (default: the number of CPUs)',
  },
  {
    name: 'max-queue',
    type: 'string',
    value: 'N',
    description: 'Builds that may wait; more are answered 429 (default 100)',
  },
  {
    name: 'queue',
    type: 'string',
    value: 'URL',
    description:
      'Take builds from the queue shared with other nodes in this Redis: redis://HOST:PORT (docs/service.md, "Many machines")',
  },
  {
    name: 'max-parallelism',
    type: 'string',
    value: 'N',
    description: 'Steps of all builds that use the CPU at once (default: the number of CPUs)',
  },
  HELP_FLAG,
];

const HELP = `Usage: tbuild serve [OPTIONS]

Run the build service: builds sent over HTTP (the /v1 API) run on this
machine, sharing one engine and store. See docs/service.md.

Options:
${formatFlagHelp(FLAGS)}`;

/** `tbuild serve`: runs until SIGTERM or SIGINT, then stops as docs/service.md says. */
export async function runServe(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  if (flags.positionals.length > 0) throw usage('"tbuild serve" accepts no arguments');
  const string = (name: string): string | undefined => flags.strings.get(name);
  const config = loadServiceConfig({
    listen: flags.lists.get('listen') ?? [],
    grpc: flags.lists.get('grpc') ?? [],
    root: resolveRoot(string('root'), process.env),
    ...optional('config', string('config')),
    ...optional('tlsCert', string('tls-cert')),
    ...optional('tlsKey', string('tls-key')),
    ...optional('tlsCa', string('tls-ca')),
    ...optional(
      'maxConcurrentBuilds',
      parseOptionalPositiveInteger(string('max-concurrent-builds'), '--max-concurrent-builds'),
    ),
    ...optional('maxQueue', parseOptionalPositiveInteger(string('max-queue'), '--max-queue')),
    ...optional('queue', string('queue')),
  });
  const maxParallelism = parseOptionalPositiveInteger(
    string('max-parallelism'),
    '--max-parallelism',
  );
  const service = await startService({
    config,
    registry: registrySettings(process.env),
    // JSON lines on stderr (pino); a request's Authorization header is never logged.
    httpLogger: {
      level: process.env['TBUILD_LOG_LEVEL'] ?? 'info',
      redact: ['req.headers.authorization', 'req.headers["x-registry-auth"]'],
    },
    ...(maxParallelism === undefined ? {} : { maxParallelism }),
  });
  for (const address of service.addresses) console.error(`tbuild serve: listening on ${address}`);
  for (const address of service.grpcAddresses)
    console.error(`tbuild serve: remote builder API (gRPC) on ${address}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  console.error('tbuild serve: stopping (running builds may finish)');
  await service.stop();
  return 0;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
