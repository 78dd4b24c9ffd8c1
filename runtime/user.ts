import { TbuildError } from '../core/index.js';

/** The ids a step runs with. */
export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups; always includes the primary gid (BuildKit `ensureAdditionalGids`). */
  readonly additionalGids: readonly number[];
  /** From passwd when the user is there; used for a missing HOME. */
  readonly home: string;
}

/** The rootfs files USER resolution reads; `undefined` when the file is absent. */
export interface UserDatabase {
  readonly passwd: string | undefined;
  readonly group: string | undefined;
}

interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}
interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

const isNumeric = (text: string): boolean => /^\d+$/.test(text);

function parsePasswd(text: string | undefined): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const fields = line.trim().split(':');
    const [name, , uid, gid, , home] = fields;
    if (name === undefined || name === '' || name.startsWith('#')) continue;
    if (uid === undefined || gid === undefined || !isNumeric(uid) || !isNumeric(gid)) continue;
    entries.push({ name, uid: Number(uid), gid: Number(gid), home: home ?? '' });
  }
  return entries;
}

function parseGroup(text: string | undefined): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [name, , gid, members] = line.trim().split(':');
    if (name === undefined || name === '' || name.startsWith('#')) continue;
    if (gid === undefined || !isNumeric(gid)) continue;
    const list = (members ?? '').split(',').filter((member) => member !== '');
    entries.push({ name, gid: Number(gid), members: list });
  }
  return entries;
}

/**
 * Resolves a Dockerfile USER (`name`, `uid`, `name:group`, `uid:gid`, …) the way
 * BuildKit does (research/sandbox.md §1.8): empty means root; numeric `uid:gid`
 * needs no files; a name must exist; a number not in passwd is used as is with gid
 * 0; an explicit group gives no supplementary groups, an implicit one gives every
 * group listing the user.
 */
export function resolveUser(spec: string | undefined, files: () => UserDatabase): ResolvedUser {
  const text = (spec ?? '').trim();
  if (text === '') return { uid: 0, gid: 0, additionalGids: [0], home: '/root' };
  const colon = text.indexOf(':');
  const userPart = colon === -1 ? text : text.slice(0, colon);
  const groupPart = colon === -1 ? undefined : text.slice(colon + 1);
  if (isNumeric(userPart) && groupPart !== undefined && isNumeric(groupPart)) {
    const gid = Number(groupPart);
    return { uid: Number(userPart), gid, additionalGids: [gid], home: '/' };
  }
  const database = files();
  const users = parsePasswd(database.passwd);
  const groups = parseGroup(database.group);
  const entry = isNumeric(userPart)
    ? users.find((user) => user.uid === Number(userPart))
    : users.find((user) => user.name === userPart);
  if (entry === undefined && !isNumeric(userPart)) {
    throw new TbuildError('TB_RUNTIME_USER', `unable to find user ${userPart}`, {
      hint: 'the user must be in /etc/passwd of the image, or be given as a number',
      details: { user: userPart },
    });
  }
  const uid = entry?.uid ?? Number(userPart);
  const home = entry?.home !== undefined && entry.home !== '' ? entry.home : '/';
  if (groupPart !== undefined && groupPart !== '') {
    let gid: number;
    if (isNumeric(groupPart)) {
      gid = Number(groupPart);
    } else {
      const group = groups.find((candidate) => candidate.name === groupPart);
      if (group === undefined) {
        throw new TbuildError('TB_RUNTIME_USER', `unable to find group ${groupPart}`, {
          hint: 'the group must be in /etc/group of the image, or be given as a number',
          details: { group: groupPart },
        });
      }
      gid = group.gid;
    }
    return { uid, gid, additionalGids: [gid], home };
  }
  const gid = entry?.gid ?? 0;
  const supplementary =
    entry === undefined
      ? []
      : groups.filter((group) => group.members.includes(entry.name)).map((group) => group.gid);
  return { uid, gid, additionalGids: [...new Set([gid, ...supplementary])], home };
}
