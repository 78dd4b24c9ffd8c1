import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { TbuildError } from '../../core/index.js';

/** Debian puts nft in /usr/sbin, which a non-login root shell's PATH may lack. */
function nftPath(): string {
  return ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((path) => existsSync(path)) ?? 'nft';
}

/**
 * Runs an nft script (`nft -f -`): one netlink transaction, applied whole or not at
 * all. tbuild runs the nft tool rather than speaking nftables netlink itself.
 */
export async function runNft(script: string, what: string): Promise<void> {
  const child = spawn(nftPath(), ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on('error', () => undefined); // nft may exit before reading all of it
  child.stdin.end(script);
  const outcome = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => {
      resolve({ code: null, error });
    });
    child.once('close', (code) => {
      resolve({ code });
    });
  });
  if (outcome.error !== undefined) {
    const missing = (outcome.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new TbuildError('TB_RUNTIME_NETWORK', `cannot ${what}: ${outcome.error.message}`, {
      ...(missing
        ? {
            hint: 'the default network needs nftables (Debian: apt-get install nftables); --network=host --allow network.host shares the host network instead',
          }
        : {}),
      cause: outcome.error,
    });
  }
  if (outcome.code !== 0) {
    const message = Buffer.concat(stderr).toString('utf8').trim().split('\n')[0] ?? '';
    throw new TbuildError(
      'TB_RUNTIME_NETWORK',
      `cannot ${what}: nft exited with ${String(outcome.code)}: ${message}`,
      { hint: 'the default network needs root and nftables with NAT support in the kernel' },
    );
  }
}
