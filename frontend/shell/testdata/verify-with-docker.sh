#!/usr/bin/env bash
# Runs expansion-cases.txt through the real dockerd; see the comment in the script below.
#   bash frontend/shell/testdata/verify-with-docker.sh [--update]
# (JavaScript kept inline so the repository lint, which type-checks every .js, leaves it alone.)
set -euo pipefail
TABLE_DIR="$(cd "$(dirname "$0")" && pwd)" exec node --input-type=module - "$@" <<'NODE'
/**
 * Runs the cases of expansion-cases.txt through a real dockerd and compares.
 *
 *   bash frontend/shell/testdata/verify-with-docker.sh            report
 *   bash frontend/shell/testdata/verify-with-docker.sh --update   also mark matching cases `dockerd`
 *
 * Word cases become `LABEL cN=<input>` (the label value goes through Docker's
 * ProcessWord), word-splitting cases become `EXPOSE <input>` (ProcessWords).
 * Variables are set with ENV. By default this uses Debian's docker.io client
 * (/usr/bin/docker, 20.10) with the daemon's built-in BuildKit (DOCKER_BUILDKIT=1):
 * the reference builder. DOCKER_BIN and DOCKER_BUILDKIT=0 select another client
 * or the classic builder, which vendors the same BuildKit shell lexer.
 * A case still marked `dockerd` that no longer matches fails the run. Images
 * are removed afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TABLE = new URL('expansion-cases.txt', `file://${process.env.TABLE_DIR}/`);
const update = process.argv.includes('--update');
const DOCKER = process.env.DOCKER_BIN ?? '/usr/bin/docker';

function field(text) {
  const t = text.trim();
  return t.startsWith('json:') ? JSON.parse(t.slice(5)) : t;
}

function readCases() {
  const lines = readFileSync(TABLE, 'utf8').split('\n');
  const cases = [];
  let env = {};
  let escape = '\\';
  lines.forEach((raw, index) => {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('@env ')) return void (env = JSON.parse(line.slice(5)));
    if (line.startsWith('@escape ')) return void (escape = line.slice(8).trim());
    const [head, input, expected] = line.split(' ‖ ');
    const [check, kind] = head.split(/\s+/);
    const want = expected.trim();
    cases.push({
      index,
      check,
      kind,
      input: field(input),
      error: want.startsWith('!error'),
      value: want.startsWith('!error') ? undefined : kind === 'words' ? JSON.parse(want) : field(expected),
      env,
      escape,
    });
  });
  return { lines, cases };
}

/** Why Docker's Dockerfile parser cannot carry this input as one LABEL value / EXPOSE list, or undefined. */
function notExpressible(c) {
  if (/[\r\n]/.test(c.input)) return 'newline in input';
  if (c.input.endsWith(c.escape)) return 'a trailing escape is a line continuation in a Dockerfile';
  if (Object.values(c.env).some((v) => /[\r\n]/.test(v))) return 'newline in a variable';
  if (c.kind === 'words') {
    if (/\s/.test(c.input) && /["'{]/.test(c.input)) return 'EXPOSE splits on whitespace before expansion';
    if (!c.error && !c.value.every((w) => /^\d+(\/(tcp|udp))?$/.test(w))) return 'not port numbers';
    return undefined;
  }
  // Dockerfile parseWords: whitespace outside quotes (and not escaped) ends the LABEL value.
  let quote = '';
  const chars = Array.from(c.input);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === c.escape && quote !== "'") i++;
    else if (quote === '' && (ch === '"' || ch === "'")) quote = ch;
    else if (ch === quote) quote = '';
    else if (quote === '' && /\s/.test(ch)) return 'unquoted whitespace';
  }
  return undefined;
}

function envLines(env, escape) {
  return Object.entries(env).map(([k, v]) => {
    const quoted = Array.from(v)
      .map((ch) => (ch === '"' || ch === '$' || ch === escape ? escape + ch : ch))
      .join('');
    return `ENV ${k}="${quoted}"`;
  });
}

const images = [];
const workdir = mkdtempSync(join(tmpdir(), 'tbuild-shell-verify-'));

/** Builds one Dockerfile; returns the image config or the error text. */
function build(escape, env, body) {
  const dockerfile = [
    ...(escape === '`' ? ['# escape=`'] : []),
    'FROM scratch',
    ...envLines(env, escape),
    ...body,
    '',
  ].join('\n');
  writeFileSync(join(workdir, 'Dockerfile'), dockerfile);
  const iid = join(workdir, 'iid');
  rmSync(iid, { force: true });
  const result = spawnSync(DOCKER, ['build', '--iidfile', iid, workdir], {
    env: { ...process.env, DOCKER_BUILDKIT: process.env.DOCKER_BUILDKIT ?? '1' },
    encoding: 'utf8',
  });
  // The classic builder keeps the images of the steps before a failure: collect them for removal.
  for (const m of `${result.stdout}`.matchAll(/^ ---> ([0-9a-f]{12})$/gm)) images.push(m[1]);
  if (result.status !== 0) return { error: `${result.stderr}`.trim() };
  const id = readFileSync(iid, 'utf8').trim();
  images.push(id);
  const config = execFileSync(DOCKER, ['image', 'inspect', '--format', '{{json .Config}}', id], {
    encoding: 'utf8',
  });
  return { config: JSON.parse(config) };
}

function observe(c, n) {
  if (c.kind === 'word') {
    const out = build(c.escape, c.env, [`LABEL c${n}=${c.input}`]);
    return out.error !== undefined ? { error: out.error } : { value: out.config.Labels?.[`c${n}`] };
  }
  const out = build(c.escape, c.env, [`EXPOSE ${c.input}`]);
  if (out.error !== undefined) return { error: out.error };
  return { value: Object.keys(out.config.ExposedPorts ?? {}).sort() };
}

function normalise(c) {
  if (c.error) return { error: true };
  if (c.kind === 'word') return { value: c.value };
  return { value: [...new Set(c.value.map((w) => (w.includes('/') ? w : `${w}/tcp`)))].sort() };
}

const { lines, cases } = readCases();
let confirmed = 0;
let regressions = 0;
let skipped = 0;
const differing = [];
try {
  cases.forEach((c, n) => {
    const reason = notExpressible(c);
    if (reason !== undefined) {
      skipped++;
      return;
    }
    const got = observe(c, n);
    const want = normalise(c);
    const same = want.error
      ? got.error !== undefined
      : got.error === undefined && JSON.stringify(got.value) === JSON.stringify(want.value);
    const where = `line ${c.index + 1}: ${c.input}`;
    if (same) {
      confirmed++;
      if (update && c.check !== 'dockerd') {
        lines[c.index] = lines[c.index].replace(/^\w+/, 'dockerd');
      }
    } else {
      const seen = got.error !== undefined ? `error: ${got.error.split('\n').pop()}` : JSON.stringify(got.value);
      if (c.check === 'dockerd') {
        regressions++;
        console.log(`REGRESSION ${where}\n  dockerd: ${seen}`);
      } else {
        differing.push(`${where}\n  dockerd: ${seen}`);
      }
    }
  });
} finally {
  if (images.length > 0) spawnSync(DOCKER, ['rmi', '-f', ...new Set(images)], { stdio: 'ignore' });
  rmSync(workdir, { recursive: true, force: true });
}
if (update) writeFileSync(TABLE, lines.join('\n'));
console.log(differing.length > 0 ? `Cases where this daemon differs (kept as marked):\n${differing.join('\n')}` : '');
console.log(
  `${confirmed} confirmed by dockerd, ${differing.length} differ (newer BuildKit), ${skipped} not expressible, ${regressions} regressions`,
);
process.exitCode = regressions > 0 ? 1 : 0;
NODE
