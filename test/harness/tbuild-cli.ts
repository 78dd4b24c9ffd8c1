import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TBUILD_BIN = join(REPO_ROOT, 'bin/tbuild.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly root?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string;
  readonly cwd?: string;
}

function checkBuilt(): void {
  if (!existsSync(join(REPO_ROOT, 'dist/bundle/cli/main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm ci does it) before the e2e tests');
  }
}

function childEnv(options: RunOptions): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...(options.root === undefined ? {} : { TBUILD_ROOT: options.root }),
    ...options.env,
  };
}

/** Runs the built CLI (dist/, made by `npm ci` or `npm run build`) as a user would. */
export function runTbuild(args: readonly string[], options: RunOptions = {}): CliResult {
  checkBuilt();
  const result = spawnSync(process.execPath, [TBUILD_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    encoding: 'utf8',
    input: options.input ?? '',
    maxBuffer: 64 * 1024 * 1024,
    env: childEnv(options),
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * runTbuild without blocking the event loop: for tests whose servers (a fault
 * proxy, a token server) answer in this process while tbuild runs.
 */
export async function runTbuildAsync(
  args: readonly string[],
  options: RunOptions = {},
): Promise<CliResult> {
  checkBuilt();
  const child = spawn(process.execPath, [TBUILD_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: childEnv(options),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(options.input ?? '');
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => {
      resolve(status ?? -1);
    });
  });
  return { code, stdout, stderr };
}

/** A fresh tbuild root holding the busybox base image (scripts/make-busybox-image.sh). */
export async function rootWithBusybox(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tbuild-e2e-root-'));
  const made = spawnSync(
    'bash',
    [join(REPO_ROOT, 'scripts/make-busybox-image.sh'), '--root', root],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`make-busybox-image.sh failed:\n${made.stderr}`);
  return root;
}

/**
 * Writes a build context: each of `files` (path → content, `Dockerfile`
 * included when given) below `dir`, parents made. Returns `dir`.
 */
export async function writeContext(
  dir: string,
  files: Readonly<Record<string, string>>,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}
