import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../../core/index.js';
import type { Chown, Owner } from '../../solver/index.js';

export interface ResolvedOwner {
  readonly uid: number;
  readonly gid: number;
}

/**
 * Resolves `--chown` names against the destination's /etc/passwd and
 * /etc/group, as BuildKit does: a user name gives its uid and primary gid
 * unless a group is named; numbers are used as they are.
 */
export async function resolveOwner(chown: Chown, root: string): Promise<ResolvedOwner> {
  const needsPasswd = 'name' in chown.user;
  const passwd = needsPasswd ? await readDatabase(join(root, 'etc/passwd')) : [];
  const user = lookup(chown.user, passwd, 'user', root);
  let gid = user.gid;
  if (chown.group !== undefined) {
    const groups = 'name' in chown.group ? await readDatabase(join(root, 'etc/group')) : [];
    gid = lookup(chown.group, groups, 'group', root).id;
  }
  return { uid: user.id, gid };
}

function lookup(
  owner: Owner,
  rows: readonly string[][],
  what: 'user' | 'group',
  root: string,
): { id: number; gid: number } {
  if ('id' in owner) return { id: owner.id, gid: owner.id };
  if (/^\d+$/.test(owner.name)) {
    const id = Number(owner.name);
    return { id, gid: id };
  }
  const row = rows.find((fields) => fields[0] === owner.name);
  if (row === undefined) {
    throw new TbuildError(
      'TB_CHOWN_UNKNOWN',
      `unable to find ${what} ${owner.name}: no matching entries in /etc/${what === 'user' ? 'passwd' : 'group'} of the destination`,
      {
        details: { name: owner.name, root },
      },
    );
  }
  return { id: Number(row[2]), gid: Number(row[what === 'user' ? 3 : 2]) };
}

async function readDatabase(path: string): Promise<string[][]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}
