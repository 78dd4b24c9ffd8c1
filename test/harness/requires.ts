import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { TestContext } from 'vitest';

/**
 * What a test needs from the machine. Missing requirements skip the test with
 * the reason locally, and fail it under CI=true, where a skipped test is a failing test.
 */
export type Requirement =
  | 'root'
  | 'overlay'
  | 'nftables'
  | 'debian-mirror'
  | 'userns'
  | 'docker-registry'
  | 'skopeo'
  | 'umoci'
  | 'busybox'
  | 'git'
  | 'ssh-agent'
  | 'cgroup2'
  | 'chromium'
  | 'docker-cli'
  | 'dockerd'
  | 'python3-docker'
  | 'redis-server'
  | 'openssl';

const probes: Record<Requirement, () => string | undefined> = {
  root: () => (process.getuid?.() === 0 ? undefined : 'needs root'),
  overlay: () =>
    readFileSync('/proc/filesystems', 'utf8').includes('overlay') ? undefined : 'needs overlayfs',
  userns: () => (existsSync('/proc/self/ns/user') ? undefined : 'needs user namespaces'),
  'docker-registry': () => onPath('docker-registry'),
  skopeo: () => onPath('skopeo'),
  umoci: () => onPath('umoci'),
  git: () => onPath('git'),
  'ssh-agent': () => onPath('ssh-agent') ?? onPath('ssh-add') ?? onPath('ssh-keygen'),
  // The default RUN network's NAT and host firewall (runtime/network/nat-table.ts).
  nftables: () =>
    ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].some((path) => existsSync(path))
      ? undefined
      : 'needs nft (Debian package nftables)',
  // Outbound access from RUN steps, tried against the one outside host this machine may reach.
  'debian-mirror': () => {
    try {
      execFileSync('getent', ['hosts', 'deb.debian.org'], { stdio: 'ignore', timeout: 10_000 });
      return undefined;
    } catch {
      return 'needs DNS and outbound HTTP to deb.debian.org';
    }
  },
  // The freezer and thread listing a RUN needs to lend its parallelism slot (slot-lender.ts).
  cgroup2: () =>
    ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].some((dir) => existsSync(`${dir}/cgroup.threads`))
      ? undefined
      : 'needs a cgroup v2 hierarchy (alone or beside v1 at /sys/fs/cgroup/unified)',
  // The web view's e2e test drives Debian's browser headless (playwright-core); it never downloads one.
  chromium: () =>
    existsSync('/usr/bin/chromium')
      ? undefined
      : 'needs /usr/bin/chromium (Debian package chromium)',
  // Debian's docker.io client by its path: another `docker` earlier on PATH may want buildx.
  'docker-cli': () =>
    existsSync('/usr/bin/docker') ? undefined : 'needs /usr/bin/docker (Debian package docker.io)',
  // Debian's docker.io daemon, which test/harness/dockerd.ts starts on a private socket.
  dockerd: () =>
    ['/usr/sbin/dockerd', '/usr/bin/dockerd'].some((path) => existsSync(path)) &&
    ['/usr/bin/containerd', '/usr/sbin/containerd'].some((path) => existsSync(path))
      ? undefined
      : 'needs dockerd and containerd (Debian package docker.io)',
  'python3-docker': () => {
    try {
      execFileSync('python3', ['-c', 'import docker'], { stdio: 'ignore' });
      return undefined;
    } catch {
      return 'needs python3 with the docker module (Debian package python3-docker)';
    }
  },
  // Debian's redis-server, for the shared queue of several `tbuild serve` nodes (test/harness/redis.ts).
  'redis-server': () => onPath('redis-server'),
  openssl: () => onPath('openssl'),
  busybox: () =>
    existsSync('/bin/busybox') ? undefined : 'needs /bin/busybox (Debian package busybox-static)',
};

function onPath(command: string): string | undefined {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `needs ${command} on PATH (bash scripts/setup.sh installs it)`;
  }
}

export function missingRequirements(needs: readonly Requirement[]): string[] {
  return needs.map((need) => probes[need]()).filter((reason) => reason !== undefined);
}

export function requires(context: TestContext, ...needs: Requirement[]): void {
  const missing = missingRequirements(needs);
  if (missing.length === 0) return;
  const reason = missing.join('; ');
  if (process.env['CI'] === 'true') {
    throw new Error(`requirement missing under CI=true: ${reason}`);
  }
  context.skip(reason);
}
