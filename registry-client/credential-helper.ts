import { spawn } from 'node:child_process';
import path from 'node:path';
import { TbuildError, canceledError } from '../core/index.js';

/**
 * The docker-credential-* protocol: `docker-credential-<name> get|store|erase`, the
 * request on stdin, JSON on stdout. "Not found" is exit 1 with
 * `credentials not found in native keychain` on stdout.
 */

export interface HelperCredential {
  readonly ServerURL?: string;
  readonly Username: string;
  readonly Secret: string;
}

export interface HelperOptions {
  /** Where helpers live; default: looked up on PATH. Tests point this at a temp dir. */
  readonly helperDir?: string;
  readonly signal: AbortSignal;
}

interface HelperResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runHelper(
  name: string,
  verb: string,
  input: string,
  options: HelperOptions,
): Promise<HelperResult> {
  const command = `docker-credential-${name}`;
  const file = options.helperDir === undefined ? command : path.join(options.helperDir, command);
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) {
      reject(canceledError(options.signal));
      return;
    }
    const child = spawn(file, [verb], { stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => {
      if (options.signal.aborted) {
        reject(canceledError(options.signal));
        return;
      }
      reject(
        new TbuildError(
          'TB_REGISTRY_CREDENTIALS',
          `cannot run credential helper ${command}: ${error.message}`,
          {
            hint: `install ${command} or remove it from credsStore/credHelpers in the docker config.json`,
            cause: error,
          },
        ),
      );
    });
    child.on('close', (code) => {
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

function helperFailure(name: string, verb: string, result: HelperResult): TbuildError {
  // The helper's output may echo what it was given; keep only its first line, without the stdin payload.
  const said = (result.stdout.trim() || result.stderr.trim()).split('\n')[0] ?? '';
  return new TbuildError(
    'TB_REGISTRY_CREDENTIALS',
    `credential helper docker-credential-${name} ${verb} failed (exit ${String(result.code)}): ${said.slice(0, 200)}`,
  );
}

/** Returns undefined when the helper has no credentials for the server. */
export async function helperGet(
  name: string,
  serverUrl: string,
  options: HelperOptions,
): Promise<HelperCredential | undefined> {
  const result = await runHelper(name, 'get', serverUrl, options);
  if (result.code !== 0) {
    if (/credentials not found/i.test(result.stdout + result.stderr)) return undefined;
    throw helperFailure(name, 'get', result);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch (error) {
    throw new TbuildError(
      'TB_REGISTRY_CREDENTIALS',
      `credential helper docker-credential-${name} did not answer with JSON`,
      {
        cause: error,
      },
    );
  }
  const record = parsed as Partial<HelperCredential>;
  if (typeof record.Username !== 'string' || typeof record.Secret !== 'string') {
    throw new TbuildError(
      'TB_REGISTRY_CREDENTIALS',
      `credential helper docker-credential-${name} answered without Username/Secret`,
    );
  }
  return {
    Username: record.Username,
    Secret: record.Secret,
    ...(typeof record.ServerURL === 'string' ? { ServerURL: record.ServerURL } : {}),
  };
}

export async function helperStore(
  name: string,
  credential: HelperCredential,
  options: HelperOptions,
): Promise<void> {
  const result = await runHelper(name, 'store', JSON.stringify(credential), options);
  if (result.code !== 0) throw helperFailure(name, 'store', result);
}

export async function helperErase(
  name: string,
  serverUrl: string,
  options: HelperOptions,
): Promise<void> {
  const result = await runHelper(name, 'erase', serverUrl, options);
  if (result.code !== 0 && !/credentials not found/i.test(result.stdout + result.stderr)) {
    throw helperFailure(name, 'erase', result);
  }
}
