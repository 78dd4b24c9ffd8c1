import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Whether a path contains glob metacharacters, as Go's filepath.Match reads them. */
export function hasWildcard(path: string): boolean {
  return /[*?[\\]/.test(path);
}

/**
 * Go's filepath.Match for one path component: `*` and `?` never match `/`,
 * `[...]` classes with ranges and `^`/`!` negation, `\` escapes.
 */
export function matchComponent(pattern: string, name: string): boolean {
  return componentRegExp(pattern).test(name);
}

const compiled = new Map<string, RegExp>();

function componentRegExp(pattern: string): RegExp {
  let regexp = compiled.get(pattern);
  if (regexp !== undefined) return regexp;
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern.charAt(index);
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '\\' && index + 1 < pattern.length) {
      index += 1;
      source += escapeRegExp(pattern.charAt(index));
    } else if (char === '[') {
      const close = pattern.indexOf(']', index + 2);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(index + 1, close);
      if (body.startsWith('^') || body.startsWith('!')) body = `^${body.slice(1)}`;
      source += `[${body.replace(/\\/g, '\\\\')}]`;
      index = close;
    } else source += escapeRegExp(char);
  }
  regexp = new RegExp(`^${source}$`, 's');
  compiled.set(pattern, regexp);
  return regexp;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The root-relative paths matching a slash-separated pattern, in sorted order. */
export async function expandWildcard(root: string, pattern: string): Promise<string[]> {
  const parts = pattern.split('/').filter((part) => part !== '' && part !== '.');
  let candidates = [''];
  for (const part of parts) {
    const next: string[] = [];
    for (const candidate of candidates) {
      if (!hasWildcard(part)) {
        next.push(candidate === '' ? part : `${candidate}/${part}`);
        continue;
      }
      let names: string[];
      try {
        names = await readdir(join(root, candidate));
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        if (matchComponent(part, name)) next.push(candidate === '' ? name : `${candidate}/${name}`);
      }
    }
    candidates = next;
  }
  return candidates.filter((candidate) => candidate !== '');
}
