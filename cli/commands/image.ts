import { closestMatch } from '../../core/index.js';
import { usage } from '../flags.js';
import { runImageHistory } from './image-history.js';
import { runImageInspect } from './image-inspect.js';
import { runImageRm } from './image-rm.js';
import { runImageTag } from './image-tag.js';
import { runImages } from './images.js';

const SUBCOMMANDS: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>> = {
  ls: runImages,
  list: runImages,
  rm: runImageRm,
  remove: runImageRm,
  tag: runImageTag,
  inspect: runImageInspect,
  history: runImageHistory,
};

const HELP = `Usage: tbuild image COMMAND

Manage the images of the local image store, as docker image does.

Commands:
  history     Show the history of an image
  inspect     Display detailed information on one or more images
  ls          List images (also: tbuild images)
  rm          Remove one or more images (also: tbuild rmi)
  tag         Create a name TARGET_IMAGE that refers to SOURCE_IMAGE

Run 'tbuild image COMMAND --help' for more information on a command.`;

/** `tbuild image SUBCOMMAND`: the docker image subcommands on the local image store. */
export async function runImage(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(HELP);
    return name === undefined ? 2 : 0;
  }
  const run = SUBCOMMANDS[name];
  if (run === undefined) {
    const closest = closestMatch(name, Object.keys(SUBCOMMANDS));
    throw usage(
      `unknown command "tbuild image ${name}"${closest === undefined ? '' : ` (did you mean ${closest}?)`}`,
      "run 'tbuild image --help'",
    );
  }
  return run(rest);
}
