/**
 * Token scopes `type:name:actions` (`repository:library/busybox:pull,push`). The name may
 * contain a ':' (a host port), so the type ends at the first ':' and the actions start
 * after the last one. Actions are sets: registries write `push,pull` or `pull,push`.
 */

export interface Scope {
  readonly type: string;
  readonly name: string;
  readonly actions: ReadonlySet<string>;
}

export function parseScope(text: string): Scope | undefined {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first === -1 || last === first) return undefined;
  const actions = text
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  return {
    type: text.slice(0, first),
    name: text.slice(first + 1, last),
    actions: new Set(actions),
  };
}

export function formatScope(scope: Scope): string {
  return `${scope.type}:${scope.name}:${[...scope.actions].sort().join(',')}`;
}

export function repositoryScope(repository: string, actions: readonly ('pull' | 'push')[]): string {
  return `repository:${repository}:${[...actions].sort().join(',')}`;
}

/** The union of scope lists: one entry per (type, name), actions merged; sorted for use as a cache key. */
export function unionScopes(...lists: readonly (readonly string[])[]): string[] {
  const merged = new Map<string, { type: string; name: string; actions: Set<string> }>();
  for (const text of lists.flat().flatMap((entry) => entry.split(' '))) {
    if (text === '') continue;
    const scope = parseScope(text);
    if (scope === undefined) continue;
    const key = `${scope.type}:${scope.name}`;
    const entry = merged.get(key) ?? {
      type: scope.type,
      name: scope.name,
      actions: new Set<string>(),
    };
    for (const action of scope.actions) entry.actions.add(action);
    merged.set(key, entry);
  }
  return [...merged.values()].map(formatScope).sort();
}

/** Whether `granted` covers every action of every scope in `wanted`. */
export function scopesCover(granted: readonly string[], wanted: readonly string[]): boolean {
  const have = new Map(
    granted
      .map(parseScope)
      .filter((s) => s !== undefined)
      .map((s) => [`${s.type}:${s.name}`, s.actions]),
  );
  return wanted.every((text) => {
    const scope = parseScope(text);
    if (scope === undefined) return true;
    const actions = have.get(`${scope.type}:${scope.name}`);
    return actions !== undefined && [...scope.actions].every((a) => actions.has(a));
  });
}
