import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TbuildError } from '../core/index.js';
import { parseGitRef } from '../frontend/index.js';
import { fetchGit, fetchHttp, unpackArchive } from '../worker/index.js';

/**
 * A build context made ready on local disk. Remote contexts (stdin, git, a URL)
 * are fetched into a temporary directory that `close` removes.
 */
export interface OpenedContext {
  readonly dir: string;
  /** Where `-f NAME` is read: the working directory for a local context, else inside it. */
  dockerfilePath(given: string | undefined): string | undefined;
  close(): Promise<void>;
}

/**
 * Opens what `docker build CONTEXT` accepts as CONTEXT: a directory; `-`, a tar
 * (plain or gzip, bzip2, xz, zstd) on standard input or else a Dockerfile alone;
 * a git URL (`https://host/repo.git#ref:subdir`, `git@host:repo.git`, `git://…`),
 * cloned with the git CLI as ADD's git source does; an http(s) URL of a tar, or
 * of a Dockerfile alone (docker decides both by sniffing the content, so does this).
 */
export async function openBuildContext(
  spec: string,
  options: {
    readonly signal: AbortSignal;
    readonly readStdin: () => Promise<Buffer>;
    /** True when `-f -` takes standard input already. */
    readonly dockerfileFromStdin: boolean;
  },
): Promise<OpenedContext> {
  const git = spec === '-' ? undefined : parseGitRef(spec);
  const url = git === undefined && /^https?:\/\//i.test(spec);
  if (spec !== '-' && git === undefined && !url) {
    return { dir: spec, dockerfilePath: (given) => given, close: () => Promise.resolve() };
  }
  if (spec === '-' && options.dockerfileFromStdin) {
    throw new TbuildError(
      'TB_USAGE',
      'invalid argument: cannot use standard input for both the build context and the Dockerfile',
      { hint: 'give the context as a directory, or the Dockerfile with -f PATH' },
    );
  }
  const scratch = await mkdtemp(join(tmpdir(), 'tbuild-context-'));
  const dir = join(scratch, 'context');
  // A Dockerfile that came alone (stdin or a URL) lies beside the empty context, not in it.
  const alone = join(scratch, 'Dockerfile');
  let dockerfileAlone = false;
  const opened: OpenedContext = {
    dir,
    // In a tar, a repository or a download, -f names a file of the context, as docker reads it.
    dockerfilePath: (given) =>
      dockerfileAlone ? alone : given === undefined || given === '-' ? given : join(dir, given),
    close: () => rm(scratch, { recursive: true, force: true }),
  };
  try {
    if (git !== undefined) {
      await fetchGit(
        {
          type: 'git',
          remote: git.remote,
          ref: git.ref,
          keepGitDir: false,
          ...(git.subdir === undefined ? {} : { subdir: git.subdir }),
        },
        { destDir: dir, signal: options.signal, tmpDir: scratch },
      );
      return opened;
    }
    const download = join(scratch, 'download');
    let file: string;
    if (url) {
      file = (
        await fetchHttp(
          { type: 'http', url: spec, filename: 'context' },
          { destDir: download, signal: options.signal },
        )
      ).path;
    } else {
      await mkdir(download);
      file = join(download, 'context');
      await writeFile(file, await options.readStdin());
    }
    if (!(await unpackArchive(file, dir, { signal: options.signal }))) {
      // Not an archive: the content is the Dockerfile, and the context is empty.
      await mkdir(dir);
      await writeFile(alone, await readFile(file));
      dockerfileAlone = true;
    }
    return opened;
  } catch (error) {
    await opened.close();
    throw error;
  }
}
