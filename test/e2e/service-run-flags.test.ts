import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requires, rootWithBusybox, startTbuildService } from '../harness/index.js';

/**
 * The Docker API's `shmsize` and `ulimits` as Debian's docker CLI sends them
 * for `docker build --shm-size --ulimit` (classic builder, DOCKER_BUILDKIT=0):
 * the RUN step of a build served by `tbuild serve` sees them.
 */
const run = promisify(execFile);
/** Debian's client by path: another `docker` earlier on PATH may want a buildx plugin. */
const DOCKER = '/usr/bin/docker';

let root = '';
let work = '';
beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  root = await rootWithBusybox();
  work = await mkdtemp(join(tmpdir(), 'tbuild-service-run-flags-'));
});
afterAll(async () => {
  for (const dir of [root, work]) if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('docker build --shm-size --ulimit against tbuild serve', () => {
  it('gives the RUN step the /dev/shm size and the limits the client asked for', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox', 'docker-cli');
    const service = await startTbuildService({ root });
    try {
      const dir = join(work, 'ctx');
      await mkdir(dir, { recursive: true });
      await writeFile(
        join(dir, 'Dockerfile'),
        'FROM busybox\nRUN echo "shm=$(df -k /dev/shm | tail -n 1 | awk \'{print $2}\') nofile=$(ulimit -n):$(ulimit -Hn)"\n',
      );
      const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_BUILDKIT: '0' };
      delete env['DOCKER_HOST'];
      delete env['DOCKER_CONTEXT'];
      const configDir = join(work, 'docker-config');
      await mkdir(configDir, { recursive: true });
      const docker = (args: readonly string[]): Promise<{ stdout: string; stderr: string }> =>
        run(DOCKER, ['--config', configDir, '-H', service.tcp, 'build', ...args, dir], {
          env,
          timeout: 180_000,
        });
      const limited = await docker(['--shm-size=128m', '--ulimit', 'nofile=1024:2048']);
      expect(limited.stdout).toContain('shm=131072 nofile=1024:2048');
      expect(limited.stdout).not.toContain('is ignored');

      const plain = await docker([]);
      expect(plain.stdout).toContain('shm=65536 ');
      expect(plain.stdout).not.toContain('nofile=1024:2048');
    } finally {
      await service.stop();
    }
  }, 300_000);
});
