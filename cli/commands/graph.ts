import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TbuildError } from '../../core/index.js';
import {
  emptyImageResolver,
  ENTITLEMENTS,
  lowerDockerfile,
  parseDockerfile,
  parsePlatform,
  type LoweredBuild,
} from '../../frontend/index.js';
import { topologicalOrder, type Vertex } from '../../solver/index.js';
import { describeNamedContexts, parseBuildContexts } from '../../builder/index.js';
import { formatFlagHelp, parseFlags, usage, type FlagSpec } from '../flags.js';

const FLAGS: readonly FlagSpec[] = [
  {
    name: 'file',
    short: 'f',
    type: 'string',
    value: 'PATH',
    description: "Name of the Dockerfile (default: 'CONTEXT/Dockerfile'; '-' reads stdin)",
  },
  {
    name: 'target',
    type: 'string',
    value: 'STAGE',
    description: 'Stage to build (default: the last)',
  },
  { name: 'build-arg', type: 'list', value: 'KEY=VALUE', description: 'Set a build-time variable' },
  {
    name: 'build-context',
    type: 'list',
    value: 'NAME=VALUE',
    description:
      'Additional build context, as tbuild build takes it; replaces the stage or image NAME (git and URL contexts are not fetched)',
  },
  {
    name: 'platform',
    type: 'string',
    value: 'OS/ARCH',
    description: 'Target platform (default: linux/amd64)',
  },
  {
    name: 'format',
    type: 'string',
    value: 'json|dot',
    description: 'Output format (default: json)',
  },
  { name: 'help', short: 'h', type: 'boolean', description: 'Show this help' },
];

const HELP = `Usage: tbuild graph [OPTIONS] CONTEXT

Show the build graph (IR) a Dockerfile lowers to, without building.
Base images are not resolved: each FROM image appears as an image source.

Options:
${formatFlagHelp(FLAGS)}`;

/** Where the command reads and writes; tests pass their own. */
export interface GraphIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readStdin: () => Promise<string>;
}

const processIo: GraphIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

export async function runGraph(argv: readonly string[], io: GraphIo = processIo): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.booleans.get('help') === true) {
    io.stdout(`${HELP}\n`);
    return 0;
  }
  const [contextDir, ...extra] = flags.positionals;
  if (contextDir === undefined || extra.length > 0) {
    throw usage(
      `"tbuild graph" requires exactly 1 argument (CONTEXT)`,
      "run 'tbuild graph --help'",
    );
  }
  const format = flags.strings.get('format') ?? 'json';
  if (format !== 'json' && format !== 'dot')
    throw usage(`invalid --format "${format}": expected json or dot`);
  const buildArgs = new Map<string, string>();
  for (const pair of flags.lists.get('build-arg') ?? []) {
    const equals = pair.indexOf('=');
    // Like docker: `--build-arg NAME` takes the value from the environment.
    if (equals < 0) {
      const value = process.env[pair];
      if (value !== undefined) buildArgs.set(pair, value);
    } else {
      buildArgs.set(pair.slice(0, equals), pair.slice(equals + 1));
    }
  }
  const platformFlag = flags.strings.get('platform');
  let platform;
  try {
    platform = platformFlag === undefined ? undefined : parsePlatform(platformFlag);
  } catch (error) {
    throw usage(error instanceof Error ? error.message : String(error));
  }

  const fileFlag = flags.strings.get('file');
  const dockerfilePath = fileFlag === undefined ? path.join(contextDir, 'Dockerfile') : fileFlag;
  const text =
    dockerfilePath === '-' ? await io.readStdin() : await readText(dockerfilePath, 'Dockerfile');
  const displayName = dockerfilePath === '-' ? 'Dockerfile' : dockerfilePath;
  const dockerignore = await readDockerignore(contextDir, dockerfilePath);

  // Read before the Dockerfile is lowered, so a bad --build-context is a usage error first.
  const namedContexts = await describeNamedContexts(
    parseBuildContexts(flags.lists.get('build-context') ?? []),
  );
  const parsed = parseDockerfile(text, { file: displayName });
  const target = flags.strings.get('target');
  const lowered = await lowerDockerfile(parsed, {
    file: displayName,
    buildArgs,
    ...(target === undefined ? {} : { target }),
    ...(platform === undefined ? {} : { platform }),
    resolver: emptyImageResolver,
    namedContexts,
    dockerignore,
    // Drawing the graph runs nothing, so nothing needs to be refused.
    entitlements: ENTITLEMENTS,
    signal: AbortSignal.timeout(60_000),
  });
  for (const warning of lowered.warnings) io.stderr(`WARNING: ${warning}\n`);
  io.stdout(
    format === 'json' ? `${JSON.stringify(graphJson(lowered), null, 2)}\n` : graphDot(lowered),
  );
  return 0;
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new TbuildError(
      'TB_FILE_READ',
      `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      { cause: error },
    );
  }
}

/** `<Dockerfile>.dockerignore` beside the Dockerfile wins over `CONTEXT/.dockerignore`, as in BuildKit. */
async function readDockerignore(contextDir: string, dockerfilePath: string): Promise<string[]> {
  const candidates = [
    ...(dockerfilePath === '-' ? [] : [`${dockerfilePath}.dockerignore`]),
    path.join(contextDir, '.dockerignore'),
  ];
  for (const candidate of candidates) {
    const text = await readFile(candidate, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    return text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
  }
  return [];
}

interface GraphVertexJson {
  readonly digest: string;
  readonly name: string;
  readonly op: unknown;
  readonly inputs: readonly string[];
}

export function graphJson(lowered: LoweredBuild): {
  root: string | null;
  vertices: GraphVertexJson[];
  contextPaths: readonly string[];
  image: unknown;
} {
  const vertices = lowered.root === undefined ? [] : topologicalOrder([lowered.root]);
  return {
    root: lowered.root?.digest ?? null,
    vertices: vertices.map((vertex) => ({
      digest: vertex.digest,
      name: vertex.meta.name,
      op: vertex.op,
      inputs: vertex.inputs.map((input) => input.digest),
    })),
    contextPaths: lowered.contextPaths,
    image: lowered.image,
  };
}

export function graphDot(lowered: LoweredBuild): string {
  const vertices: Vertex[] = lowered.root === undefined ? [] : topologicalOrder([lowered.root]);
  const id = (vertex: Vertex): string => JSON.stringify(vertex.digest.slice(7, 19));
  const lines = ['digraph build {', '  rankdir=BT;', '  node [shape=box, fontname="monospace"];'];
  for (const vertex of vertices) {
    const shape =
      vertex.op.kind === 'source'
        ? ', shape=ellipse'
        : vertex.op.kind === 'merge'
          ? ', shape=diamond'
          : '';
    lines.push(
      `  ${id(vertex)} [label=${JSON.stringify(`${vertex.meta.name}\n${vertex.op.kind} ${vertex.digest.slice(7, 19)}`)}${shape}];`,
    );
  }
  for (const vertex of vertices) {
    for (const input of vertex.inputs) lines.push(`  ${id(input)} -> ${id(vertex)};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
