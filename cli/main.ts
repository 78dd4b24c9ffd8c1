import { closestMatch, formatError, toTbuildError, TbuildError } from '../core/index.js';
import { existsSync } from 'node:fs';
import { parseGitRef } from '../frontend/index.js';
import { runBuildCommand } from './commands/build.js';
import { runBuilder } from './commands/builder.js';
import { runDu } from './commands/du.js';
import { runGraph } from './commands/graph.js';
import { runImage } from './commands/image.js';
import { runImageHistory } from './commands/image-history.js';
import { runImageRm } from './commands/image-rm.js';
import { runImageTag } from './commands/image-tag.js';
import { runImages } from './commands/images.js';
import { runLoad } from './commands/load.js';
import { runLogin } from './commands/login.js';
import { runLogout } from './commands/logout.js';
import { runPull } from './commands/pull.js';
import { runPush } from './commands/push.js';
import { runPrune } from './commands/prune.js';
import { runVersion } from './commands/version.js';

/** A subcommand: takes its own arguments, returns the process exit code. */
export type Command = (argv: readonly string[]) => Promise<number>;

interface CommandEntry {
  readonly run: Command;
  readonly summary: string;
}

const commands: Readonly<Record<string, CommandEntry>> = {
  build: {
    run: runBuildCommand,
    summary: 'Build an image from a Dockerfile (the default command)',
  },
  builder: {
    run: runBuilder,
    summary: 'Manage remote builders: create, ls, use, rm (tbuild build --builder)',
  },
  graph: { run: (argv) => runGraph(argv), summary: 'Show the build graph a Dockerfile lowers to' },
  du: { run: runDu, summary: 'Show the disk usage of the build cache' },
  history: { run: runImageHistory, summary: 'Show the history of an image' },
  image: { run: runImage, summary: 'Manage images: ls, rm, tag, inspect, history' },
  images: { run: runImages, summary: 'List the images of the local image store' },
  load: { run: runLoad, summary: 'Load an image from a docker archive or OCI layout tar' },
  login: { run: runLogin, summary: 'Log in to a registry' },
  logout: { run: runLogout, summary: 'Log out from a registry' },
  prune: { run: runPrune, summary: 'Remove build cache' },
  rmi: { run: runImageRm, summary: 'Remove images from the local image store' },
  tag: { run: runImageTag, summary: 'Give an image of the local image store another name' },
  pull: { run: runPull, summary: 'Pull an image from a registry' },
  push: { run: runPush, summary: 'Push an image to a registry' },
  serve: {
    // Loaded on use: the service's modules (fastify, prom-client) would cost every other command.
    run: async (argv) => (await import('./commands/serve.js')).runServe(argv),
    summary: 'Run the build service (HTTP API)',
  },
  version: { run: runVersion, summary: 'Show the tbuild version' },
};

const USAGE = `Usage: tbuild [build] [OPTIONS] CONTEXT
       tbuild COMMAND [OPTIONS]

Commands:
${Object.entries(commands)
  .map(([name, entry]) => `  ${name.padEnd(10)} ${entry.summary}`)
  .join('\n')}

Options:
  -v, --version  Show the tbuild version

Run 'tbuild COMMAND --help' for more information on a command.`;

/** Exit codes, as docker buildx uses them. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A context `tbuild build` fetches (docs/cli.md): a git URL, or an http(s) URL of a tar or Dockerfile. */
function isRemoteContext(argument: string): boolean {
  return /^https?:\/\//i.test(argument) || parseGitRef(argument) !== undefined;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  // As `docker --version`: the version line, without the build command's flag parsing.
  if (name === '--version' || name === '-v') return runVersion([]);
  // `tbuild .`, `tbuild -t app .` and `tbuild https://host/repo.git` build, as `docker buildx build` would.
  const entry =
    commands[name] ??
    (name.startsWith('-') || existsSync(name) || isRemoteContext(name)
      ? { run: () => runBuildCommand(argv), summary: '' }
      : undefined);
  try {
    if (entry === undefined) {
      const closest = closestMatch(name, Object.keys(commands));
      throw new TbuildError(
        'TB_USAGE',
        `unknown command "${name}"${closest === undefined ? '' : ` (did you mean ${closest}?)`}`,
        {
          hint: "run 'tbuild --help' for the list of commands",
        },
      );
    }
    return await entry.run(rest);
  } catch (error) {
    const tbuildError = toTbuildError(error);
    // The code last, on its own line: stable for scripts, and the heading in docs/errors.md.
    console.error(`${formatError(tbuildError)}\nerror code: ${tbuildError.code}`);
    return tbuildError.code === 'TB_USAGE' ? EXIT_USAGE : EXIT_FAILED;
  }
}
