import type { Stats } from 'node:fs';
import type { CopyAction } from '../../solver/index.js';
import { unpackArchive } from '../sources/index.js';
import type { ResolvedOwner } from './owners.js';

/**
 * ADD's auto-extraction (CopyAction.unpack), as BuildKit's file backend does it
 * (docopy → unpack): a regular source file that is a tar (plain, gzip, bzip2, xz) is
 * extracted into the destination, which is then always a directory — `ADD a.tar.gz /d`
 * and `ADD a.tar.gz /d/` both give `/d/<archive's entries>` — created 0755 when missing.
 * Ownership comes from the archive, or --chown replaces it; --chmod does not apply to
 * extracted entries. Returns false (nothing written) for anything else, which the caller
 * then copies as a plain file, as Docker does.
 */
export async function unpackIfArchive(
  action: CopyAction,
  source: { readonly host: string; readonly stats: Stats },
  destHost: string,
  options: { readonly owner?: ResolvedOwner; readonly signal?: AbortSignal },
): Promise<boolean> {
  if (!action.unpack || !source.stats.isFile()) return false;
  return unpackArchive(source.host, destHost, {
    signal: options.signal ?? new AbortController().signal,
    ...(options.owner === undefined
      ? {}
      : { owner: { uid: options.owner.uid, gid: options.owner.gid } }),
  });
}
