import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SandboxExecutor, type RunResult, type RunSpec } from '../../../runtime/index.js';
import { buildBusyboxRootfs, freshOverlayDirs, removeTree } from '../../harness/index.js';

/** Collects a stream into a string. */
export class Collect extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export interface Sandbox {
  readonly base: string;
  readonly lower: string;
  readonly executor: SandboxExecutor;
  /** Runs a shell script in a fresh overlay step; returns status, output and the upper dir. */
  sh(
    script: string,
    spec?: Partial<Omit<RunSpec, 'rootfs' | 'process'>> & {
      user?: string;
      cwd?: string;
      env?: string[];
    },
    signal?: AbortSignal,
  ): Promise<RunResult & { stdout: string; stderr: string; upperDir: string }>;
  /** Closes the executor (the default network's host side goes with the last user) and removes the files. */
  close(): Promise<void>;
}

/** A busybox rootfs under a short state directory, and an executor over it. */
export function openSandbox(): Sandbox {
  mkdirSync('/tmp/tbt', { recursive: true });
  const base = mkdtempSync('/tmp/tbt/');
  const lower = buildBusyboxRootfs(base);
  const executor = new SandboxExecutor({ stateDir: join(base, 's') });
  return {
    base,
    lower,
    executor,
    async sh(script, spec = {}, signal = new AbortController().signal) {
      const { upperDir, workDir } = freshOverlayDirs(base);
      const stdout = new Collect();
      const stderr = new Collect();
      const { user, cwd, env, ...rest } = spec;
      const result = await executor.run(
        {
          ...rest,
          rootfs: { lowerDirs: [lower], upperDir, workDir },
          process: {
            args: ['/bin/sh', '-c', script],
            env: env ?? [],
            ...(user === undefined ? {} : { user }),
            ...(cwd === undefined ? {} : { cwd }),
          },
        },
        { signal, stdout, stderr },
      );
      return { ...result, stdout: stdout.text, stderr: stderr.text, upperDir };
    },
    async close() {
      await executor.close();
      removeTree(base);
    },
  };
}
