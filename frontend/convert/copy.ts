import path from 'node:path/posix';
import type { Chown, CopyAction, FileAction, Owner } from '../../solver/ir/index.js';
import type { AddInstruction, CopyInstruction } from '../dockerfile/index.js';
import {
  commitHistory,
  expandIn,
  stateLookup,
  stepName,
  vertexMeta,
  type LowerContext,
} from './context.js';
import { lowerError } from './errors.js';
import { isHttpUrl, parseGitRef } from './git-ref.js';
import { cleanPath, resolveDest } from './paths.js';
import { CONTEXT, InputList, planNode } from './plan.js';
import { chompHeredoc } from './run.js';
import { withStep, writtenWithHeredocs } from './step-meta.js';
import type { StageCommand, StageState } from './state.js';

/**
 * COPY and ADD: one copy action per source, chained in one file op on the
 * stage's filesystem; with --link the copy lands on an empty directory and a
 * merge op layers it on top, so the layer does not depend on what is below.
 */
export function dispatchCopy(
  ctx: LowerContext,
  state: StageState,
  command: StageCommand,
  instruction: CopyInstruction | AddInstruction,
): void {
  const isAdd = instruction.kind === 'ADD';
  const expand = (word: string): string => expandIn(ctx, state, word);
  const sources = instruction.sources.map(expand);
  const rawDest = expand(instruction.dest);
  if (sources.length + instruction.heredocs.length > 1 && !rawDest.endsWith('/')) {
    throw lowerError(
      'TB_DOCKERFILE_ARGUMENTS',
      `When using ${instruction.kind} with more than one source file, the destination must be a directory and end with a /`,
    );
  }
  const dest = resolveDest(state.workdir, rawDest);
  const chown = instruction.chown === undefined ? undefined : expand(instruction.chown);
  const chmod =
    instruction.chmod === undefined ? undefined : normalizeChmod(expand(instruction.chmod));
  const excludePatterns = instruction.exclude.map(expand);
  const checksum =
    isAdd && instruction.checksum !== undefined ? expand(instruction.checksum) : undefined;
  const parents = instruction.kind === 'COPY' && instruction.parents;
  const fromStage =
    instruction.kind === 'COPY' && instruction.from !== undefined ? command.sources[0] : undefined;
  if (checksum !== undefined) {
    if (sources.length !== 1)
      throw lowerError(
        'TB_DOCKERFILE_FLAG_VALUE',
        "checksum can't be specified for multiple sources",
      );
    const only = sources[0] ?? '';
    if (!isHttpUrl(only) && parseGitRef(only) === undefined) {
      throw lowerError('TB_DOCKERFILE_FLAG_VALUE', 'checksum requires HTTP(S) or Git sources');
    }
  }

  const inputs = new InputList();
  const link = instruction.link && chmod === undefined;
  const base = link || state.fs === undefined ? undefined : inputs.add(state.fs);
  const owner = chown === undefined || chown === '' ? undefined : parseChown(chown);
  const common = {
    dest,
    ...(owner === undefined ? {} : { owner }),
    ...(chmod === undefined ? {} : { mode: chmod }),
    createDestPath: true,
    ...(ctx.epoch === undefined ? {} : { timestamp: ctx.epoch }),
  };
  const actions: FileAction[] = [];
  const history: string[] = [instruction.kind];
  if (parents) history.push('--parents');
  if (chown !== undefined) history.push(`--chown=${chown}`);
  if (chmod !== undefined)
    history.push(`--chmod=${instruction.chmod === undefined ? '' : expand(instruction.chmod)}`);

  for (const source of sources) {
    history.push(source);
    const git = parseGitRef(source);
    if (git !== undefined) {
      if (!isAdd) throw lowerError('TB_DOCKERFILE_ARGUMENTS', "source can't be a git ref for COPY");
      const keepGitDir = git.keepGitDir ?? instruction.keepGitDir;
      if (checksum !== undefined && git.checksum !== undefined && checksum !== git.checksum) {
        throw lowerError(
          'TB_DOCKERFILE_FLAG_VALUE',
          `checksum mismatch "${checksum}" != "${git.checksum}"`,
        );
      }
      const commit = git.checksum ?? checksum;
      const node = planNode(
        {
          kind: 'source',
          source: {
            type: 'git',
            remote: git.remote,
            ref: git.ref,
            ...(git.subdir === undefined ? {} : { subdir: git.subdir }),
            keepGitDir,
            ...(commit === undefined ? {} : { checksum: commit }),
          },
        },
        [],
        vertexMeta(
          ctx,
          stepName(state, instruction.original, command.onbuild, false),
          instruction.range,
        ),
      );
      actions.push(
        copyAction(common, inputs.add(node), '/', {
          followSymlinks: false,
          dirContents: true,
          wildcard: false,
        }),
      );
      continue;
    }
    if (/^https?:\/\//i.test(source)) {
      if (!isAdd) throw lowerError('TB_DOCKERFILE_ARGUMENTS', "source can't be a URL for COPY");
      const filename = urlFilename(source);
      const node = planNode(
        {
          kind: 'source',
          source: {
            type: 'http',
            url: source,
            filename,
            ...(checksum === undefined ? {} : { checksum }),
          },
        },
        [],
        vertexMeta(
          ctx,
          stepName(state, instruction.original, command.onbuild, false),
          instruction.range,
        ),
      );
      // Remote archives are not unpacked unless --unpack says so.
      const unpack = instruction.unpack === true;
      actions.push(
        copyAction(common, inputs.add(node), filename, {
          followSymlinks: false,
          dirContents: false,
          wildcard: false,
          unpack,
        }),
      );
      continue;
    }
    // --parents keeps the `/./` pivot in src: the worker keeps the directories below it.
    const src = parents ? `/${source.replace(/^\/+/, '')}` : cleanPath(source);
    if (fromStage === undefined) ctx.contextPaths.add(cleanPath(source));
    const from =
      fromStage === undefined
        ? inputs.add(CONTEXT)
        : fromStage.fs === undefined
          ? undefined
          : inputs.add(fromStage.fs);
    const unpack = isAdd ? (instruction.unpack ?? true) : false;
    actions.push({
      ...copyAction(common, from, src, {
        followSymlinks: true,
        dirContents: true,
        wildcard: true,
        unpack,
      }),
      excludePatterns,
      parents,
    });
  }

  instruction.heredocs.forEach((doc) => {
    history.push(`<<${doc.name}`);
    const data = doc.expand
      ? expandHeredoc(chompHeredoc(doc), stateLookup(ctx, state))
      : chompHeredoc(doc);
    const file = planNode(
      {
        kind: 'file',
        actions: [
          {
            action: 'mkfile',
            path: `/${doc.name}`,
            mode: 0o644,
            data,
            ...(ctx.epoch === undefined ? {} : { timestamp: ctx.epoch }),
          },
        ],
      },
      [],
      vertexMeta(ctx, '[internal] preparing inline document', instruction.range),
    );
    actions.push(
      copyAction(common, inputs.add(file), `/${doc.name}`, {
        followSymlinks: false,
        dirContents: false,
        wildcard: false,
      }),
    );
  });
  history.push(rawDest);

  const name = stepName(state, instruction.original, command.onbuild);
  const meta = withStep(
    vertexMeta(ctx, name, instruction.range),
    state,
    writtenWithHeredocs(instruction.original, instruction.heredocs),
    { all: false },
  );
  const copied = planNode(
    { kind: 'file', ...(base === undefined ? {} : { base }), actions },
    inputs.refs,
    meta,
  );
  if (link && state.fs !== undefined) {
    state.fs = planNode(
      { kind: 'merge' },
      [state.fs, copied],
      vertexMeta(ctx, name.replace(/\] /, '] LINK '), instruction.range),
    );
  } else {
    state.fs = copied;
  }
  commitHistory(ctx, state, history.join(' '), true, true);
}

function copyAction(
  common: Pick<CopyAction, 'dest' | 'createDestPath'> &
    Partial<Pick<CopyAction, 'owner' | 'mode' | 'timestamp'>>,
  from: number | undefined,
  src: string,
  options: { followSymlinks: boolean; dirContents: boolean; wildcard: boolean; unpack?: boolean },
): CopyAction {
  return {
    action: 'copy',
    ...(from === undefined ? {} : { from }),
    src,
    ...common,
    followSymlinks: options.followSymlinks,
    dirContents: options.dirContents,
    allowWildcard: options.wildcard,
    allowEmptyWildcard: options.wildcard,
    includePatterns: [],
    excludePatterns: [],
    parents: false,
    unpack: options.unpack ?? false,
  };
}

/** The downloaded file's name: the URL path's last segment, as BuildKit. */
function urlFilename(url: string): string {
  try {
    const base = path.basename(new URL(url).pathname);
    return base === '' || base === '.' || base === '/' ? '__unnamed__' : decodeURIComponent(base);
  } catch {
    return '__unnamed__';
  }
}

/** `user[:group]`: numbers are IDs, names are looked up in the destination's /etc/passwd and /etc/group. */
export function parseChown(text: string): Chown {
  const owner = (part: string): Owner =>
    /^\d+$/.test(part) ? { id: Number(part) } : { name: part };
  const colon = text.indexOf(':');
  const user = colon < 0 ? text : text.slice(0, colon);
  const group = colon < 0 ? undefined : text.slice(colon + 1);
  if (user === '')
    throw lowerError(
      'TB_DOCKERFILE_FLAG_VALUE',
      `invalid --chown value "${text}": the user is missing`,
    );
  return {
    user: owner(user),
    ...(group === undefined || group === '' ? {} : { group: owner(group) }),
  };
}

const SYMBOLIC_CLAUSE = /^[ugoa]*(?:[+=-](?:[rwxXst]*|[ugo]))+$/;

/** --chmod: octal (normalised, at most 07777) or symbolic (`u+x,go-w`) kept as written. */
export function normalizeChmod(text: string): string {
  if (/^[0-7]+$/.test(text)) {
    const mode = Number.parseInt(text, 8);
    if (mode <= 0o7777) return mode.toString(8);
  }
  if (!/^\d+$/.test(text) && text.split(',').every((clause) => SYMBOLIC_CLAUSE.test(clause)))
    return text;
  throw lowerError(
    'TB_DOCKERFILE_FLAG_VALUE',
    `invalid chmod parameter: '${text}'. it should be octal string and between 0 and 07777`,
    'use an octal mode like 755 or a symbolic one like u+x,go-w',
  );
}

/**
 * Variables in an unquoted heredoc (`<<EOF`): `$NAME` and `${NAME}` are
 * replaced, quotes are kept (BuildKit's expansion with SkipProcessQuotes);
 * a backslash keeps a `$` literal.
 */
export function expandHeredoc(text: string, lookup: (name: string) => string | undefined): string {
  return text.replace(
    /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, braced?: string, bare?: string) => {
      if (match === '\\$') return '$';
      return lookup(braced ?? bare ?? '') ?? '';
    },
  );
}
