import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TbuildError } from '../../core/index.js';
import {
  DEFAULT_DOCKER_HOST,
  loadIntoDocker,
  parseDockerHost,
  writeDirectoryOutput,
  writeFileOutput,
  type OutputSpec,
} from '../../builder/index.js';
import type { OutputKind } from '../../remote/index.js';

/**
 * Writes an output a remote builder streamed back, as a local build writes it:
 * a file or a tree whole or not at all at `dest`, standard output for `-`, or
 * a docker archive into the Docker daemon of this machine (`DOCKER_HOST`).
 */
export function outputWriter(
  outputs: readonly OutputSpec[],
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): (index: number, kind: OutputKind, data: Readable) => Promise<void> {
  return async (index, kind, data) => {
    const output = outputs[index];
    if (output === undefined)
      throw new TbuildError(
        'TB_BUILDER_UNAVAILABLE',
        `the builder sent output ${String(index)}, not asked for`,
      );
    const context = { signal };
    if (kind === 'docker') {
      const host = env['DOCKER_HOST'];
      await loadIntoDocker(
        parseDockerHost(host === undefined || host === '' ? DEFAULT_DOCKER_HOST : host),
        (body) => pipeline(data, body),
        signal,
      );
      return;
    }
    const dest = output.dest ?? '-';
    if (kind === 'file') {
      if (dest === '-') await pipeline(data, process.stdout, { end: false });
      else await writeFileOutput(dest, context, (out) => pipeline(data, out));
      return;
    }
    if (dest === '-') {
      await pipeline(data, process.stdout, { end: false });
      return;
    }
    await writeDirectoryOutput(dest, context, (dir) => untar(data, dir, signal));
  };
}

/** Unpacks a tar into `dir` with the system's tar, which replaces a file rather than write into it. */
async function untar(data: Readable, dir: string, signal: AbortSignal): Promise<void> {
  const child = spawn('tar', ['-x', '--numeric-owner', '-C', dir], {
    stdio: ['pipe', 'ignore', 'pipe'],
    signal,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      resolve(code ?? -1);
    });
  });
  await pipeline(data, child.stdin);
  const code = await exited;
  if (code !== 0)
    throw new TbuildError(
      'TB_OUTPUT_WRITE',
      `cannot unpack the output into ${dir}: ${stderr.trim()}`,
    );
}
