import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Scenario } from './scenarios.js';

/**
 * Contexts shaped like real projects, so that compression and hashing cost what
 * they cost on users' data: source text that gzip halves, already-compressed
 * files it cannot shrink, sizes with a long tail, and a node_modules-like tree
 * of many small files. Deterministic: the same seed gives the same bytes.
 */

/** mulberry32: a small seeded generator; Math.random would make every run's context different. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'const let function return if else for while import export from async await new class ' +
  'this null undefined true false value result error options config module request response ' +
  'buffer stream path file index count length items record state handler event listener ' +
  'parse format render update delete create build cache layer image digest manifest'
).split(' ');

/** Source-like text: lines of identifiers and punctuation; gzip -6 shrinks it about 2.8:1. */
function sourceText(random: () => number, size: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  while (length < size) {
    const indent = '  '.repeat(Math.floor(random() * 4));
    const count = 2 + Math.floor(random() * 8);
    const words = Array.from({ length: count }, () => {
      const word = WORDS[Math.floor(random() * WORDS.length)] ?? 'x';
      // Identifiers with numbers, as in real code: keeps the text from compressing too well.
      return random() < 0.6 ? `${word}${Math.floor(random() * 0xffffff).toString(36)}` : word;
    });
    const line = `${indent}${words.join(random() < 0.5 ? ' ' : '.')}${random() < 0.5 ? ';' : ' {'}`;
    lines.push(line);
    length += line.length + 1;
  }
  return Buffer.from(lines.join('\n').slice(0, size));
}

/** Bytes gzip cannot shrink: what images, archives and fonts are. */
function compressedBytes(random: () => number, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4)
    bytes.writeUInt32LE(Math.floor(random() * 4294967296) >>> 0, i < size - 3 ? i : size - 4);
  return bytes;
}

/** A long tail: most files are a few KB, a few are 100+ KB (a log-uniform draw). */
function tailSize(random: () => number, min: number, max: number): number {
  return Math.floor(Math.exp(Math.log(min) + random() * (Math.log(max) - Math.log(min))));
}

function write(file: string, bytes: Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
}

/**
 * About 20k files and ~120 MB: 6k source files (100 B–64 KB), 300 compressed
 * assets (5–500 KB), and a node_modules tree of 1,500 packages × 9 small files.
 */
export function writeRealisticProject(dir: string, seed = 7): void {
  const random = seeded(seed);
  for (let i = 0; i < 6000; i++) {
    const module = `src/m${String(i % 60)}/sub${String(i % 7)}/file${String(i)}.ts`;
    write(join(dir, module), sourceText(random, tailSize(random, 100, 64_000)));
  }
  for (let i = 0; i < 300; i++) {
    const kind = ['png', 'jpg', 'gz', 'woff2'][i % 4] ?? 'bin';
    write(
      join(dir, `assets/a${String(i % 12)}/asset${String(i)}.${kind}`),
      compressedBytes(random, tailSize(random, 5000, 500_000)),
    );
  }
  for (let p = 0; p < 1500; p++) {
    const pkg = join(
      dir,
      'node_modules',
      p % 5 === 0 ? `@scope${String(p % 17)}` : '',
      `pkg${String(p)}`,
    );
    write(
      join(pkg, 'package.json'),
      Buffer.from(
        JSON.stringify(
          { name: `pkg${String(p)}`, version: `1.${String(p % 30)}.0`, main: 'index.js' },
          null,
          2,
        ),
      ),
    );
    write(join(pkg, 'README.md'), sourceText(random, tailSize(random, 200, 8000)));
    write(
      join(pkg, 'LICENSE'),
      Buffer.from(
        'MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy.\n',
      ),
    );
    for (let f = 0; f < 6; f++)
      write(
        join(pkg, f < 3 ? 'lib' : 'dist', `part${String(f)}.js`),
        sourceText(random, tailSize(random, 150, 12_000)),
      );
  }
}

/** The realistic context copied whole, then listed (as an app image's COPY . /app). */
export const realistic: Scenario = {
  name: 'realistic',
  description: 'COPY of a 20k-file project context (source text, compressed assets, node_modules)',
  prepare(dir) {
    writeFileSync(
      join(dir, 'Dockerfile'),
      'FROM busybox\nCOPY . /app\nRUN find /app -type f | wc -l\n',
    );
    writeFileSync(join(dir, '.dockerignore'), 'Dockerfile\n');
    writeRealisticProject(dir);
  },
};

/** Edits one source file of the realistic context (a developer's save). */
export function editOneSourceFile(dir: string, round: number): void {
  write(join(dir, 'src/m7/sub0/file7.ts'), sourceText(seeded(1000 + round), 3000));
}

const DEBIAN = 'debian:bookworm-minbase';

/** apt-get install of a small package on a Debian base (BuildKit runs it with --network host). */
export const apt: Scenario = {
  name: 'apt',
  description: `apt-get install jq on ${DEBIAN}`,
  needsDebian: true,
  prepare(dir) {
    writeFileSync(
      join(dir, 'Dockerfile'),
      `FROM ${DEBIAN}\nRUN apt-get update -qq && apt-get install -y -qq --no-install-recommends jq >/dev/null && jq --version\n`,
    );
  },
};

/**
 * A small real project: gcc from apt under cache mounts, one C file compiled,
 * the binary copied into a busybox stage.
 */
export const cproject: Scenario = {
  name: 'cproject',
  description: 'gcc from apt (cache mounts), one C file compiled, copied into busybox',
  needsDebian: true,
  prepare(dir) {
    writeFileSync(
      join(dir, 'Dockerfile'),
      [
        `FROM ${DEBIAN} AS build`,
        'RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\',
        '    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \\',
        '    apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null',
        'WORKDIR /src',
        'COPY main.c .',
        'RUN gcc -O2 -static -o /hello main.c',
        'FROM busybox',
        'COPY --from=build /hello /hello',
        'CMD ["/hello"]',
        '',
      ].join('\n'),
    );
    editCFile(dir, 0);
  },
};

/** Changes the C project's one source file. */
export function editCFile(dir: string, round: number): void {
  writeFileSync(
    join(dir, 'main.c'),
    `#include <stdio.h>\nint main(void) { printf("hello %d\\n", ${String(round)}); return 0; }\n`,
  );
}
