import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { commandExists, measureCommand, timeCommand, type CommandMeasure } from '../lib.js';

/** A builder under benchmark: tbuild itself, or BuildKit through dockerd. */
export interface Builder {
  readonly name: string;
  available(): string | undefined;
  /** Forgets every cached result, so the next build is cold (the base images stay). */
  reset(bases: BaseImages): void;
  /** Builds `dir`: the wall time in milliseconds and, where measured, the peak RSS. */
  build(dir: string, options?: BuildFlags): CommandMeasure;
}

export interface BaseImages {
  /** Also the Debian minbase image (debootstrap, kept in /var/cache/tbuild once made). */
  readonly debian: boolean;
}

export interface BuildFlags {
  /** `--no-cache`: every step runs, cache mounts stay warm. */
  readonly noCache?: boolean;
}

// Run as users run it (npx, PATH): the file itself, so its shebang's node flags apply.
const tbuildBin = fileURLToPath(new URL('../../bin/tbuild.js', import.meta.url));
const makeBusybox = fileURLToPath(new URL('../../scripts/make-busybox-image.sh', import.meta.url));
const makeDebian = fileURLToPath(new URL('../../scripts/make-debian-image.sh', import.meta.url));

function runScript(script: string, args: readonly string[]): void {
  const made = spawnSync('bash', [script, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (made.status !== 0) throw new Error(`${script} failed`);
}

export function tbuild(root: string): Builder {
  return {
    name: 'tbuild',
    available: () => undefined,
    reset: (bases) => {
      // A fresh root with only the base images: nothing cached, as BuildKit after `builder prune -af`.
      rmSync(root, { recursive: true, force: true });
      runScript(makeBusybox, ['--root', root]);
      if (bases.debian) runScript(makeDebian, ['--root', root]);
    },
    build: (dir, flags = {}) =>
      measureCommand(tbuildBin, [
        'build',
        '--root',
        root,
        '--progress=quiet',
        ...(flags.noCache === true ? ['--no-cache'] : []),
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
    reset: (bases) => {
      spawnSync(docker, ['builder', 'prune', '-af'], { stdio: 'ignore' });
      if (bases.debian) runScript(makeDebian, ['--docker', '--no-tbuild']);
    },
    build: (dir, flags = {}) =>
      // The client's RSS says nothing of BuildKit's (it runs in dockerd): wall time only.
      // --network host: dockerd runs with --iptables=false, so its bridge has no NAT.
      ({
        ms: timeCommand(
          docker,
          [
            'build',
            '-q',
            '--network',
            'host',
            ...(flags.noCache === true ? ['--no-cache'] : []),
            '-t',
            'bench:latest',
            dir,
          ],
          { env: { ...process.env, DOCKER_BUILDKIT: '1' } },
        ),
        peakRssKb: undefined,
      }),
  };
}
