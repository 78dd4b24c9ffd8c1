/**
 * BuildKit's suggest.Search: the closest option under Levenshtein distance 3,
 * nothing when the value is itself an option. Written out (a dozen lines)
 * rather than adding a dependency for it.
 */
export function suggestName(
  value: string,
  options: Iterable<string>,
  caseSensitive = true,
): string {
  const needle = caseSensitive ? value : value.toLowerCase();
  let match = '';
  let best = 3;
  for (const option of options) {
    const candidate = caseSensitive ? option : option.toLowerCase();
    if (candidate === needle) return '';
    const distance = levenshtein(needle, candidate);
    if (distance < best) {
      match = option;
      best = distance;
    }
  }
  return match;
}

export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
