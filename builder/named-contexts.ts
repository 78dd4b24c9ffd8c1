import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TbuildError } from '../core/index.js';
import { parseDockerignore, type NamedContext } from '../frontend/index.js';
import { chooseOciLayoutImage, importOciLayoutDir, type Engine } from '../worker/index.js';
import type { BuildContextSpec } from './build-context-spec.js';
import { openBuildContext } from './context-source.js';

/** The `--build-context`s of one build, made ready: what the frontend and the session get. */
export interface OpenedNamedContexts {
  /** By name, for the frontend's lowering. */
  readonly contexts: ReadonlyMap<string, NamedContext>;
  /** Extra local directories of the build's session, by local source name. */
  readonly locals: ReadonlyMap<string, string>;
  /** Removes what was fetched (git and URL contexts). */
  close(): Promise<void>;
}

/** The repository name OCI layout images are read under (by digest; no name is stored). */
const OCI_LAYOUT_REPOSITORY = 'tbuild/oci-layout';

/**
 * Makes each named context usable: a directory becomes a local source of the
 * session (`named:NAME`); a git or http(s) URL is fetched into a temporary
 * directory (as a build context is) and becomes one too; an OCI layout is
 * copied into the content store and becomes an image pinned by digest; an
 * image stays an image.
 */
export async function openNamedContexts(
  specs: readonly BuildContextSpec[],
  options: { readonly engine: Engine; readonly signal: AbortSignal },
): Promise<OpenedNamedContexts> {
  const contexts = new Map<string, NamedContext>();
  const locals = new Map<string, string>();
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers) await closer();
  };
  try {
    for (const spec of specs) {
      const local = `named:${spec.name}`;
      if (spec.kind === 'image') {
        contexts.set(spec.name, { kind: 'image', ref: spec.ref });
      } else if (spec.kind === 'oci-layout') {
        const target = await importOciLayoutDir(
          options.engine.store,
          spec.path,
          {
            ...(spec.tag === undefined ? {} : { tag: spec.tag }),
            ...(spec.digest === undefined ? {} : { digest: spec.digest }),
          },
          options.signal,
        );
        contexts.set(spec.name, {
          kind: 'image',
          ref: `${OCI_LAYOUT_REPOSITORY}@${target.digest}`,
        });
      } else if (spec.kind === 'url') {
        const opened = await openBuildContext(spec.url, {
          signal: options.signal,
          readStdin: () => Promise.reject(new TbuildError('TB_INTERNAL', 'no stdin for a URL')),
          dockerfileFromStdin: false,
        });
        closers.push(() => opened.close());
        locals.set(local, opened.dir);
        contexts.set(spec.name, {
          kind: 'local',
          name: local,
          excludePatterns: await ignorePatterns(opened.dir),
        });
      } else {
        const path = await directoryOf(spec);
        locals.set(local, path);
        // Its own .dockerignore applies, as BuildKit reads one in each named directory.
        contexts.set(spec.name, {
          kind: 'local',
          name: local,
          excludePatterns: await ignorePatterns(path),
        });
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { contexts, locals, close };
}

/**
 * What the frontend sees of each named context, with nothing fetched or
 * stored (`tbuild graph`): directories as openNamedContexts gives them, an OCI
 * layout's image by the digest its index.json names, and a git or URL context
 * as a local source without its `.dockerignore` (it is not fetched).
 */
export async function describeNamedContexts(
  specs: readonly BuildContextSpec[],
): Promise<Map<string, NamedContext>> {
  const contexts = new Map<string, NamedContext>();
  for (const spec of specs) {
    const local = `named:${spec.name}`;
    if (spec.kind === 'image') contexts.set(spec.name, { kind: 'image', ref: spec.ref });
    else if (spec.kind === 'oci-layout') {
      const chosen = await chooseOciLayoutImage(spec.path, {
        ...(spec.tag === undefined ? {} : { tag: spec.tag }),
        ...(spec.digest === undefined ? {} : { digest: spec.digest }),
      });
      contexts.set(spec.name, { kind: 'image', ref: `${OCI_LAYOUT_REPOSITORY}@${chosen.digest}` });
    } else if (spec.kind === 'url') contexts.set(spec.name, { kind: 'local', name: local });
    else
      contexts.set(spec.name, {
        kind: 'local',
        name: local,
        excludePatterns: await ignorePatterns(await directoryOf(spec)),
      });
  }
  return contexts;
}

/** A directory context's absolute path, once it is known to be a directory. */
async function directoryOf(spec: {
  readonly name: string;
  readonly path: string;
}): Promise<string> {
  const path = resolve(spec.path);
  const stats = await stat(path).catch(() => undefined);
  if (stats?.isDirectory() !== true) {
    throw new TbuildError(
      'TB_FILE_READ',
      `--build-context ${spec.name}=${spec.path}: ${stats === undefined ? 'no such directory' : 'not a directory'}`,
    );
  }
  return path;
}

/** The `.dockerignore` patterns of a directory, `!` kept; none when it has no such file. */
async function ignorePatterns(dir: string): Promise<string[]> {
  const file = join(dir, '.dockerignore');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return [];
  return parseDockerignore(text, file).map((rule) => `${rule.negate ? '!' : ''}${rule.pattern}`);
}
