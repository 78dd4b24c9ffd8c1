import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TbuildError } from '../../core/index.js';

/**
 * zstd through Debian's `zstd` (installed by scripts/setup.sh): Node 20 has no
 * zstd, and the reference implementation is multi-threaded and deterministic
 * (its output does not depend on the number of worker threads).
 */
export function zstdCompress(
  source: AsyncIterable<Uint8Array>,
  options: { readonly level?: number; readonly signal: AbortSignal },
): Readable {
  const level = options.level === undefined || options.level === 0 ? 3 : options.level;
  return throughZstd(
    source,
    ['-q', '-c', '-T0', '--no-progress', ...(level > 19 ? ['--ultra'] : []), `-${String(level)}`],
    options.signal,
  );
}

/** The decompressed bytes of a zstd stream. */
export function zstdDecompress(source: AsyncIterable<Uint8Array>, signal: AbortSignal): Readable {
  return throughZstd(source, ['-q', '-d', '-c', '--no-progress'], signal);
}

function throughZstd(
  source: AsyncIterable<Uint8Array>,
  args: readonly string[],
  signal: AbortSignal,
): Readable {
  const child = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'], signal });
  const errors: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (error) => {
      reject(
        new TbuildError('TB_UNSUPPORTED', `cannot run zstd: ${error.message}`, {
          hint: 'install it with apt-get install zstd (scripts/setup.sh does)',
          cause: error,
        }),
      );
    });
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new TbuildError(
            'TB_IMAGE_INVALID',
            `zstd failed (${String(code)}): ${Buffer.concat(errors).toString().trim()}`,
          ),
        );
    });
  });
  const fed = pipeline(Readable.from(source), child.stdin);
  return Readable.from(
    (async function* () {
      for await (const chunk of child.stdout) yield chunk as Uint8Array;
      await Promise.all([fed, exited]);
    })(),
  );
}
