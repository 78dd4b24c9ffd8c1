/**
 * Runs the git CLI the way BuildKit does (source/git gitWithinDir): a clean environment
 * (no system or user config, `HOME=/dev/null`), never a prompt (`GIT_TERMINAL_PROMPT=0`,
 * ssh in batch mode), no stdin, `protocol.file.allow=user` so a repository cannot pull
 * local files in as submodules. git starts helpers (remote-https, upload-pack, ssh) that
 * outlive a killed parent, so it runs in its own process group and an abort kills the group.
 */
import { spawn } from 'node:child_process';
import { TbuildError, canceledError, throwIfAborted, type ErrorCode } from '../../core/index.js';
import { redactCredentialsIn } from './redact.js';

export interface GitRunOptions {
  readonly signal: AbortSignal;
  /** Working directory of the process. */
  readonly cwd?: string;
  /** The git executable; `git` on the search path below by default. */
  readonly gitBinary?: string;
  /** PATH for git and its helpers (library code never reads the caller's environment). */
  readonly path?: string;
  /** The code an exit other than 0 is reported with. */
  readonly errorCode?: ErrorCode;
}

export interface GitOutput {
  readonly stdout: string;
  readonly stderr: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Enough of git's stderr to explain a failure without flooding a message. */
const STDERR_LIMIT = 4096;

export function gitEnvironment(path: string | undefined): Record<string, string> {
  return {
    PATH: path ?? DEFAULT_PATH,
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: 'ssh -F /dev/null -o BatchMode=yes',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    HOME: '/dev/null',
    LC_ALL: 'C',
    GIT_ASKPASS: 'true',
  };
}

export async function runGit(args: readonly string[], options: GitRunOptions): Promise<GitOutput> {
  throwIfAborted(options.signal);
  const fullArgs = ['-c', 'protocol.file.allow=user', '-c', 'advice.detachedHead=false', ...args];
  const child = spawn(options.gitBinary ?? 'git', fullArgs, {
    cwd: options.cwd,
    env: gitEnvironment(options.path),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const killGroup = (): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  options.signal.addEventListener('abort', killGroup, { once: true });
  try {
    const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
      child.once('error', (error) => {
        resolve({ code: null, error });
      });
      child.once('close', (code) => {
        resolve({ code });
      });
    });
    if (options.signal.aborted) throw canceledError(options.signal);
    const output = {
      stdout: Buffer.concat(stdout).toString('utf8'),
      stderr: Buffer.concat(stderr).toString('utf8'),
    };
    if (exit.error !== undefined) {
      throw new TbuildError('TB_GIT_SOURCE', `cannot run git: ${exit.error.message}`, {
        cause: exit.error,
        hint: 'install git (bash scripts/setup.sh does)',
      });
    }
    if (exit.code !== 0) {
      const command = redactCredentialsIn(args.filter((arg) => !arg.startsWith('-')).join(' '));
      throw new TbuildError(
        options.errorCode ?? 'TB_GIT_SOURCE',
        `git ${command} failed (exit ${String(exit.code)}): ${gitMessage(output.stderr)}`,
        { details: { exitCode: exit.code } },
      );
    }
    return output;
  } finally {
    options.signal.removeEventListener('abort', killGroup);
  }
}

/** git's stderr, redacted, trimmed to its useful end. */
export function gitMessage(stderr: string): string {
  const redacted = redactCredentialsIn(stderr.trim());
  return redacted.length > STDERR_LIMIT ? `…${redacted.slice(-STDERR_LIMIT)}` : redacted;
}
