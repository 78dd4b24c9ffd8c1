/**
 * WWW-Authenticate parsing (RFC 7235). Values are quoted strings that may hold commas
 * (`scope="repository:a/b:pull,push"`) and backslash escapes; several challenges may share
 * one header (Node joins repeated headers with ", "), so a comma does not end a challenge.
 */

export interface Challenge {
  /** Lowercase: `bearer`, `basic`, … */
  readonly scheme: string;
  /** Parameter names are lowercase. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const text = typeof header === 'string' ? header : header.join(', ');
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let pos = 0;

  const skipSpace = (): void => {
    while (pos < text.length && (text[pos] === ' ' || text[pos] === '\t')) pos++;
  };
  const skipSeparators = (): void => {
    while (pos < text.length && (text[pos] === ' ' || text[pos] === '\t' || text[pos] === ','))
      pos++;
  };
  const readToken = (): string => {
    const start = pos;
    while (pos < text.length && TOKEN_CHAR.test(text[pos] ?? '')) pos++;
    return text.slice(start, pos);
  };
  const readQuoted = (): string => {
    pos++; // opening quote
    let value = '';
    while (pos < text.length && text[pos] !== '"') {
      if (text[pos] === '\\' && pos + 1 < text.length) pos++;
      value += text[pos] ?? '';
      pos++;
    }
    pos++; // closing quote
    return value;
  };

  while (pos < text.length) {
    skipSeparators();
    const scheme = readToken();
    if (scheme === '') {
      pos++; // not a token: skip a stray character rather than loop forever
      continue;
    }
    const current = { scheme: scheme.toLowerCase(), params: {} as Record<string, string> };
    challenges.push(current);
    // Parameters until the next token that is not followed by "=" (that is the next scheme).
    for (;;) {
      skipSeparators();
      const mark = pos;
      const name = readToken();
      skipSpace();
      if (name === '' || text[pos] !== '=') {
        pos = mark;
        break;
      }
      pos++; // "="
      skipSpace();
      const value = text[pos] === '"' ? readQuoted() : readToken();
      current.params[name.toLowerCase()] = value;
    }
  }
  return challenges;
}

/** Bearer beats Basic, as in go-containerregistry. */
export function preferredChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return (
    challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic')
  );
}
