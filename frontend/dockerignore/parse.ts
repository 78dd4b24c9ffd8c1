/**
 * Reads .dockerignore text as moby/patternmatcher's ignorefile.ReadAll and
 * patternmatcher.New do together, and rejects what they (or the regexp
 * compiled at match time) would reject, naming the file and line.
 */
import { TbuildError, isTbuildError } from '../../core/index.js';
import { goClean, goMatchSyntaxError, goTrimSpace } from './go-path.js';
import { compilePattern } from './pattern.js';

export interface IgnoreRule {
  readonly pattern: string;
  readonly negate: boolean;
  readonly line: number;
}

export function invalidPattern(file: string, line: number, text: string, reason: string): never {
  throw new TbuildError(
    'TB_DOCKERIGNORE',
    `${file}:${String(line)}: invalid pattern ${JSON.stringify(text)}: ${reason}`,
    {
      hint: 'Patterns use Go filepath.Match syntax: *, ?, [a-z], \\ to escape, ** for any directories.',
      details: { file, line, pattern: text },
    },
  );
}

/** Checks one rule the way Docker would when it builds and uses its matcher. */
export function validateRule(rule: IgnoreRule, file: string, text: string): void {
  if (goMatchSyntaxError(rule.pattern))
    invalidPattern(file, rule.line, text, 'syntax error in pattern');
  try {
    compilePattern(rule.pattern);
  } catch (error) {
    if (isTbuildError(error, 'TB_DOCKERIGNORE'))
      invalidPattern(file, rule.line, text, error.message);
    throw error;
  }
}

/** Parses .dockerignore text like Docker's ignorefile.ReadAll: comments, blank lines, trimming, leading "/" and trailing "/" handling, path cleaning, "!" negation. */
export function parseDockerignore(text: string, file: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  // bufio.ScanLines: split on \n, drop one trailing \r, no empty token after a final newline.
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (index === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    // Only a '#' in the first column starts a comment: "  # x" is a pattern.
    if (line.startsWith('#')) return;
    let pattern = goTrimSpace(line);
    if (pattern === '') return;
    const negate = pattern.startsWith('!');
    if (negate) pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = goClean(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    // patternmatcher.New trims and cleans the line ReadAll produced once more.
    if (negate) {
      const again = goClean(`!${pattern}`);
      if (again === '!') invalidPattern(file, lineNumber, line, 'illegal exclusion pattern: "!"');
      pattern = again.slice(1);
    } else {
      pattern = goClean(pattern);
    }
    const rule = { pattern, negate, line: lineNumber };
    validateRule(rule, file, line.trim());
    rules.push(rule);
  });
  return rules;
}
