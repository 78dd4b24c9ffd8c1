/** A git source named in ADD, after BuildKit's dfgitutil.ParseGitRef. */
export interface GitRef {
  readonly remote: string;
  readonly ref: string;
  readonly subdir?: string;
  readonly keepGitDir?: boolean;
  readonly checksum?: string;
}

/**
 * Recognises git URLs: `git://…`, `ssh://…`, `git@host:path`, and `http(s)://…`
 * whose path ends in `.git`. A fragment `#ref:subdir` or query
 * (`?ref=…&subdir=…&keep-git-dir=…&checksum=…`) selects the revision.
 * Returns undefined for anything else (a local path or a plain URL).
 */
export function parseGitRef(source: string): GitRef | undefined {
  const isSsh = /^[\w.-]+@[\w.-]+:/.test(source) && !source.includes('://');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(source)?.[1]?.toLowerCase();
  if (!isSsh && scheme === undefined) return undefined;
  if (scheme !== undefined && !['git', 'ssh', 'http', 'https'].includes(scheme)) return undefined;
  const hash = source.indexOf('#');
  let base = hash < 0 ? source : source.slice(0, hash);
  const fragment = hash < 0 ? '' : source.slice(hash + 1);
  let query = '';
  const question = base.indexOf('?');
  if (question >= 0 && !isSsh) {
    query = base.slice(question + 1);
    base = base.slice(0, question);
  }
  if ((scheme === 'http' || scheme === 'https') && !base.replace(/\/+$/, '').endsWith('.git'))
    return undefined;
  let ref = '';
  let subdir: string | undefined;
  let keepGitDir: boolean | undefined;
  let checksum: string | undefined;
  if (fragment !== '') {
    const colon = fragment.indexOf(':');
    ref = colon < 0 ? fragment : fragment.slice(0, colon);
    if (colon >= 0 && fragment.slice(colon + 1) !== '') subdir = fragment.slice(colon + 1);
  }
  for (const [key, value] of new URLSearchParams(query)) {
    if (key === 'ref' || key === 'branch' || key === 'tag') ref = value;
    else if (key === 'subdir') subdir = value;
    else if (key === 'keep-git-dir') keepGitDir = value === '' || value === 'true' || value === '1';
    else if (key === 'checksum' || key === 'commit') checksum = value;
  }
  return {
    remote: base,
    ref,
    ...(subdir === undefined ? {} : { subdir }),
    ...(keepGitDir === undefined ? {} : { keepGitDir }),
    ...(checksum === undefined ? {} : { checksum }),
  };
}

export function isHttpUrl(source: string): boolean {
  return /^https?:\/\//i.test(source) && parseGitRef(source) === undefined;
}
