import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { commandExists, measureCommand, timeCommand, type CommandMeasure } from '../lib.js';

/** A builder under benchmark: tbuild itself, or BuildKit through dockerd. */
export interface Builder {
  readonly name: string;
  available(): string | undefined;
  /** Forgets every cached result, so the next build is cold. */
  reset(): void;
  /** Builds `dir`: the wall time in milliseconds and, where measured, the peak RSS. */
  build(dir: string): CommandMeasure;
}

// Run as users run it (npx, PATH): the file itself, so its shebang's node flags apply.
const tbuildBin = fileURLToPath(new URL('../../bin/tbuild.js', import.meta.url));
const makeBusybox = fileURLToPath(new URL('../../scripts/make-busybox-image.sh', import.meta.url));

export function tbuild(root: string): Builder {
  return {
    name: 'tbuild',
    available: () => undefined,
    reset: () => {
      // A fresh root with only the base image: nothing cached, as BuildKit after `builder prune -af`.
      rmSync(root, { recursive: true, force: true });
      const made = spawnSync('bash', [makeBusybox, '--root', root], { stdio: 'ignore' });
      if (made.status !== 0) throw new Error('scripts/make-busybox-image.sh failed');
    },
    build: (dir) =>
      measureCommand(tbuildBin, [
        'build',
        '--root',
        root,
        '--progress=quiet',
        '-t',
        'bench:latest',
        dir,
      ]),
  };
}

/** The reference: `DOCKER_BUILDKIT=1 docker build` against a running dockerd (Debian's docker.io). */
export function buildkit(): Builder {
  const docker = '/usr/bin/docker';
  return {
    name: 'BuildKit',
    available: () => {
      if (!commandExists(docker)) return 'docker.io is not installed';
      if (spawnSync(docker, ['info'], { stdio: 'ignore' }).status !== 0)
        return 'dockerd is not running (dockerd --iptables=false &)';
      if (
        spawnSync(docker, ['image', 'inspect', 'busybox:latest'], { stdio: 'ignore' }).status !== 0
      ) {
        return 'dockerd has no busybox image (bash bench/builds/docker-busybox.sh)';
      }
      return undefined;
    },
    reset: () => {
      spawnSync(docker, ['builder', 'prune', '-af'], { stdio: 'ignore' });
    },
    build: (dir) =>
      // The client's RSS says nothing of BuildKit's (it runs in dockerd): wall time only.
      ({
        ms: timeCommand(docker, ['build', '-q', '-t', 'bench:latest', dir], {
          env: { ...process.env, DOCKER_BUILDKIT: '1' },
        }),
        peakRssKb: undefined,
      }),
  };
}
