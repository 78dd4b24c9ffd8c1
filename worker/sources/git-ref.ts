/**
 * Which ref of a remote a git source means, from `git ls-remote` output, the way BuildKit
 * resolves `repo.git#ref`: an empty ref is the remote's default branch (HEAD's symref); a
 * full commit id is taken as is; otherwise a branch wins over a tag of the same name, then
 * any other ref with that exact name or tail. Annotated tags carry the tag object's id and
 * the commit's (the `^{}` line); `--checksum` may name either.
 */
import { TbuildError } from '../../core/index.js';

export interface RemoteRef {
  /** `refs/heads/main`, `refs/tags/v1`, … */
  readonly name: string;
  /** The id the ref points to: a commit, or a tag object for annotated tags. */
  readonly id: string;
  /** The commit an annotated tag peels to. */
  readonly peeled?: string;
}

const FULL_COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const SHORT_COMMIT = /^[0-9a-f]{7,63}$/;

export function isFullCommit(ref: string): boolean {
  return FULL_COMMIT.test(ref);
}

export function mayBeShortCommit(ref: string): boolean {
  return SHORT_COMMIT.test(ref);
}

/** Parses `<id>\t<name>` lines; `ref: <target>\tHEAD` symref lines give the default branch. */
export function parseLsRemote(output: string): { refs: RemoteRef[]; headTarget?: string } {
  const ids = new Map<string, string>();
  const peeled = new Map<string, string>();
  let headTarget: string | undefined;
  for (const line of output.split('\n')) {
    const [left, name] = line.split('\t');
    if (left === undefined || name === undefined) continue;
    if (left.startsWith('ref: ')) {
      if (name === 'HEAD') headTarget = left.slice('ref: '.length).trim();
      continue;
    }
    if (name.endsWith('^{}')) peeled.set(name.slice(0, -3), left);
    else ids.set(name, left);
  }
  const refs = [...ids].map(([name, id]) => {
    const commit = peeled.get(name);
    return commit === undefined ? { name, id } : { name, id, peeled: commit };
  });
  return headTarget === undefined ? { refs } : { refs, headTarget };
}

/** The remote ref `ref` names, or undefined. */
export function pickRef(refs: readonly RemoteRef[], ref: string): RemoteRef | undefined {
  const byName = new Map(refs.map((candidate) => [candidate.name, candidate]));
  const exact = [`refs/heads/${ref}`, `refs/tags/${ref}`, ref];
  for (const name of exact) {
    const found = byName.get(name);
    if (found !== undefined) return found;
  }
  return refs.find((candidate) => candidate.name.endsWith(`/${ref}`));
}

/** `#ref:subdir` subdirectories are relative to the repository root and may not climb out. */
export function normalizeSubdir(subdir: string | undefined): string[] {
  if (subdir === undefined) return [];
  const parts: string[] = [];
  for (const part of subdir.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new TbuildError(
        'TB_GIT_REF_NOT_FOUND',
        `git subdirectory ${JSON.stringify(subdir)} climbs out of the repository`,
        { details: { subdir } },
      );
    }
    parts.push(part);
  }
  return parts;
}
