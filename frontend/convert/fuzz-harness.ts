import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeRawText, encodeRawText, isTbuildError, type ImageConfig } from '../../core/index.js';
import { parseDockerfile } from '../dockerfile/index.js';
import { lowerDockerfile } from './lower.js';
import type { ImageMetaResolver } from './types.js';

/**
 * Fuzzing of the whole frontend: seeded mutations of every Dockerfile of the
 * corpus (the lowering and parser fixtures, Dockerfile.examples), each parsed and
 * lowered in-process with a fake image resolver, no build. A mutant may lower
 * or fail with a TbuildError; anything else (a TypeError, a RangeError, a
 * stack overflow) is a crash. Deterministic: the same seed gives the same files.
 * Shared by the fuzz tests (frontend/convert, frontend/dockerfile) and bench/fuzz/dockerfiles.ts.
 */

const REPO = path.join(import.meta.dirname, '..', '..');

/** The corpus, each file as raw text (core/raw-text.ts), in a stable order. */
export function fuzzCorpus(): string[] {
  const dirs = [
    path.join(import.meta.dirname, 'testdata'),
    path.join(REPO, 'Dockerfile.examples'),
    // The parser's cases: its odd corners (directives, BOMs, escapes, heredocs).
    path.join(import.meta.dirname, '..', 'dockerfile', 'testdata'),
  ];
  const files: string[] = [];
  for (const dir of dirs) {
    const cases = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    for (const name of cases) {
      files.push(decodeRawText(readFileSync(path.join(dir, name, 'Dockerfile'))));
    }
  }
  return files;
}

/** mulberry32: small, fast, and the same sequence on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYWORDS = [
  'FROM',
  'RUN',
  'CMD',
  'LABEL',
  'MAINTAINER',
  'EXPOSE',
  'ENV',
  'ADD',
  'COPY',
  'ENTRYPOINT',
  'VOLUME',
  'USER',
  'WORKDIR',
  'ARG',
  'ONBUILD',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
];

const FLAGS = [
  '--from=',
  '--from=0',
  '--from=build',
  '--from=busybox',
  '--chown=1:1',
  '--chown=',
  '--chown=nobody:',
  '--chmod=755',
  '--chmod=u+x',
  '--chmod=',
  '--link',
  '--link=false',
  '--parents',
  '--exclude=*.md',
  '--keep-git-dir',
  '--checksum=sha256:00',
  '--platform=linux/arm64',
  '--platform=$BUILDPLATFORM',
  '--platform=',
  '--mount=type=cache,target=/c',
  '--mount=type=bind,from=build,source=/x,target=/y',
  '--mount=type=secret,id=s',
  '--mount=type=ssh',
  '--mount=type=tmpfs,target=/t,size=1k',
  '--mount=target=',
  '--mount=type=cache,id=,target=/a,sharing=locked,mode=0700,uid=1,gid=2',
  '--network=none',
  '--network=host',
  '--network=',
  '--security=insecure',
  '--interval=5s',
  '--timeout=0s',
  '--retries=-1',
  '--start-period=1x',
  '--unknown',
  '--',
  '-',
];

const FRAGMENTS = [
  '"',
  "'",
  '\\',
  '`',
  '\\\n',
  '`\n',
  '<<EOF\nx\nEOF\n',
  '<<-EOF\n\tx\n\tEOF\n',
  "<<'EOF'\n$x\nEOF\n",
  '<<EOF',
  'EOF',
  '<<',
  '[',
  ']',
  '["a", "b"]',
  '["a", 1]',
  '[]',
  '=',
  ',',
  '$',
  '${',
  '}',
  '${a:-b}',
  '${a:+b}',
  '${a:?err}',
  '${a#*}',
  '${a%%x}',
  '${a/x/y}',
  '$TARGETPLATFORM',
  '$BUILDARCH',
  ' AS ',
  ' as x',
  '#',
  '# escape=`\n',
  '# syntax=docker/dockerfile:1\n',
  '# check=skip=all\n',
  '\n',
  '\r\n',
  '\r',
  '\t',
  ' ',
  '\u0000',
  '\uFEFF',
  'é',
  '🐳',
  '\u2028',
  '\u00a0',
  '\uDCFF',
  '\uD800',
  '*',
  '?',
  '**/',
  '../',
  '/',
  '.',
  ':',
  '@sha256:',
  'scratch',
  'busybox:1',
  '0',
  '-1',
  '99999999999999999999',
];

function pick<T>(next: () => number, items: readonly T[]): T {
  // Every list picked from is non-empty.
  return items[Math.floor(next() * items.length)] as T;
}

function below(next: () => number, count: number): number {
  return Math.floor(next() * count);
}

/** One mutation of `text`; `corpus` gives lines to splice from other files. */
export function mutateDockerfile(
  text: string,
  next: () => number,
  corpus: readonly string[],
): string {
  const lines = text.split('\n');
  const line = below(next, lines.length);
  const at = below(next, text.length + 1);
  switch (below(next, 12)) {
    case 0: {
      // A byte flipped, added or removed: may leave bytes that are not UTF-8.
      const bytes = encodeRawText(text);
      const index = below(next, bytes.length + 1);
      const byte = below(next, 256);
      const choice = below(next, 3);
      const changed =
        choice === 0 && index < bytes.length
          ? Buffer.concat([bytes.subarray(0, index), Buffer.of(byte), bytes.subarray(index + 1)])
          : choice === 1
            ? Buffer.concat([bytes.subarray(0, index), Buffer.of(byte), bytes.subarray(index)])
            : Buffer.concat([bytes.subarray(0, index), bytes.subarray(index + 1)]);
      return decodeRawText(changed);
    }
    case 1:
      lines.splice(line, 0, lines[line] ?? '');
      return lines.join('\n');
    case 2:
      lines.splice(line, 1 + below(next, 3));
      return lines.join('\n');
    case 3: {
      // A line from another file of the corpus.
      const other = pick(next, corpus).split('\n');
      lines.splice(line, 0, pick(next, other));
      return lines.join('\n');
    }
    case 4: {
      // The instruction keyword of a line swapped for another.
      const current = lines[line] ?? '';
      lines[line] = current.replace(/^(\s*)\S*/, (_, space: string) => {
        const keyword = next() < 0.05 ? 'NOSUCH' : pick(next, KEYWORDS);
        return space + (next() < 0.2 ? keyword.toLowerCase() : keyword);
      });
      return lines.join('\n');
    }
    case 5: {
      // A flag after the keyword.
      const current = lines[line] ?? '';
      lines[line] = current.replace(/^(\s*\S+)/, `$1 ${pick(next, FLAGS)}`);
      return lines.join('\n');
    }
    case 6:
      return text.slice(0, at) + pick(next, FRAGMENTS) + text.slice(at);
    case 7:
      return text.slice(0, at) + text.slice(at + 1 + below(next, 8));
    case 8: {
      // A random code point, any plane.
      const point = next() < 0.5 ? below(next, 0x80) : below(next, 0x110000);
      const char =
        point >= 0xd800 && point <= 0xdfff
          ? String.fromCharCode(point)
          : String.fromCodePoint(point);
      return text.slice(0, at) + char + text.slice(at);
    }
    case 9: {
      // Two lines exchanged.
      const other = below(next, lines.length);
      const a = lines[line];
      const b = lines[other];
      if (a !== undefined && b !== undefined) {
        lines[line] = b;
        lines[other] = a;
      }
      return lines.join('\n');
    }
    case 10: {
      // A whole instruction from fragments.
      let made = pick(next, KEYWORDS);
      for (let count = below(next, 5); count > 0; count--) {
        made += ` ${next() < 0.3 ? pick(next, FLAGS) : pick(next, FRAGMENTS)}`;
      }
      lines.splice(line, 0, made);
      return lines.join('\n');
    }
    default:
      // The tail of another file appended (more stages, stage name clashes).
      return `${text}\n${pick(next, corpus).slice(below(next, 200))}`;
  }
}

export interface FuzzStats {
  readonly files: number;
  /** Mutants that parsed. */
  readonly parsed: number;
  /** Mutants that parsed and lowered. */
  readonly lowered: number;
  /** Each crash: what escaped, and the mutant (JSON-quoted, so bad bytes stay visible). */
  readonly crashes: readonly string[];
}

export interface FuzzOptions {
  readonly count: number;
  readonly seed: number;
  /** Called every 1,000 files, for a progress line. */
  readonly onProgress?: (stats: FuzzStats) => void;
}

const ONBUILD_TRIGGERS = [
  'RUN echo from-base',
  'COPY . /x',
  'ENV A=b',
  'ONBUILD RUN x',
  'FROM x',
  'MAINTAINER m',
  'COPY --from=0 / /',
  'RUN <<EOF',
];

/**
 * A resolver that knows every image: a config with env, user, workdir and, for a
 * reference that mentions "onbuild", triggers, so ONBUILD parsing runs too.
 */
function fakeResolver(next: () => number, corpusLines: readonly string[]): ImageMetaResolver {
  return {
    resolve(ref) {
      const config: ImageConfig = {
        architecture: 'amd64',
        os: 'linux',
        config: {
          Env: [
            'PATH=/usr/bin:/bin',
            'HOME=/root',
            ...(next() < 0.1 ? [pick(next, FRAGMENTS), `X=${pick(next, FRAGMENTS)}`] : []),
          ],
          User: next() < 0.2 ? 'nobody' : '',
          WorkingDir: next() < 0.2 ? '/srv' : '',
          ...(ref.includes('onbuild') || next() < 0.05
            ? {
                OnBuild: [
                  pick(next, ONBUILD_TRIGGERS),
                  mutateDockerfile(pick(next, corpusLines), next, corpusLines),
                ],
              }
            : {}),
        },
        rootfs: { type: 'layers', diff_ids: [] },
      };
      return Promise.resolve({ ref, config });
    },
  };
}

/**
 * A crash is anything thrown that is not a TbuildError; TB_INTERNAL, which the
 * parser wraps its own unexpected exceptions in (parse.ts `guarded`); and a
 * Dockerfile error that does not say where in the file it is.
 */
function crash(error: unknown, text: string, where: string, target?: string): string | undefined {
  const input = `\n--- input ---\n${JSON.stringify(text)}`;
  if (isTbuildError(error) && error.code !== 'TB_INTERNAL') {
    // A Dockerfile error must say where (errors name the file and line), except the
    // one about --target, which names the flag's value instead.
    const aboutTarget = target !== undefined && error.code === 'TB_DOCKERFILE_STAGE';
    if (error.code.startsWith('TB_DOCKERFILE_') && error.source === undefined && !aboutTarget)
      return `${where}: ${error.code} without a source: ${error.message}${input}`;
    return undefined;
  }
  const what = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  return `${where}: ${what}${input}`;
}

/** Parse failures by error code, for tuning the mutator (bench script only). */
export const parseFailureCodes = new Map<string, number>();
export const lowerFailureCodes = new Map<string, number>();

export async function runFuzz(options: FuzzOptions): Promise<FuzzStats> {
  const corpus = fuzzCorpus();
  const corpusLines = corpus.flatMap((text) => text.split('\n')).filter((l) => l.trim() !== '');
  const next = seededRandom(options.seed);
  const resolver = fakeResolver(next, corpusLines);
  const signal = new AbortController().signal;
  const crashes: string[] = [];
  let parsed = 0;
  let lowered = 0;
  for (let file = 0; file < options.count; file++) {
    let text = pick(next, corpus);
    // Mostly a few mutations, so most mutants stay close enough to lower; now and then many.
    const mutations = next() < 0.1 ? 4 + below(next, 12) : 1 + below(next, 3);
    for (let count = mutations; count > 0; count--) {
      text = mutateDockerfile(text, next, corpus);
    }
    let dockerfile;
    try {
      dockerfile = parseDockerfile(text, { file: 'Dockerfile' });
      parsed++;
    } catch (error) {
      if (isTbuildError(error))
        parseFailureCodes.set(error.code, (parseFailureCodes.get(error.code) ?? 0) + 1);
      const found = crash(error, text, 'parse');
      if (found !== undefined) crashes.push(found);
    }
    if (dockerfile !== undefined) {
      const target = next() < 0.1 ? pick(next, ['build', 'base', '0', 'nosuch']) : undefined;
      try {
        await lowerDockerfile(dockerfile, {
          resolver,
          signal,
          buildArgs: new Map([['VERSION', next() < 0.5 ? '1.0' : '${x']]),
          ...(target === undefined ? {} : { target }),
          entitlements: ['network.host', 'security.insecure'],
        });
        lowered++;
      } catch (error) {
        if (isTbuildError(error))
          lowerFailureCodes.set(error.code, (lowerFailureCodes.get(error.code) ?? 0) + 1);
        const found = crash(error, text, 'lower', target);
        if (found !== undefined) crashes.push(found);
      }
    }
    if ((file + 1) % 1000 === 0)
      options.onProgress?.({ files: file + 1, parsed, lowered, crashes });
  }
  return { files: options.count, parsed, lowered, crashes };
}
