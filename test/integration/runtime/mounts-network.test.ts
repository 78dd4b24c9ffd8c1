import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requires } from '../../harness/index.js';
import { openSandbox, type Sandbox } from './fixture.js';

let sandbox: Sandbox;
beforeAll(() => {
  sandbox = openSandbox();
});
afterAll(() => sandbox.close());

const needs = ['root', 'overlay', 'busybox'] as const;

/** Interface names of a /proc/net/dev listing. */
function interfaces(procNetDev: string): string[] {
  return procNetDev
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((name) => name !== '')
    .sort();
}

describe('runtime mounts and networks', () => {
  it('gives /dev/shm 64 MB as Docker does', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh("grep ' /dev/shm ' /proc/self/mounts");
    expect(result.stdout).toMatch(/^shm \/dev\/shm tmpfs [^ ]*size=65536k/);
  });

  it('forwards the SSH agent socket itself into the step', async (ctx) => {
    requires(ctx, ...needs);
    const socketDir = join(sandbox.base, 'agent');
    mkdirSync(socketDir, { recursive: true });
    const socketPath = join(socketDir, 'agent.sock');
    const server: Server = createServer((connection) => connection.end());
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      // busybox has no unix-socket client: the inode shows it is the host's socket, bound in.
      const result = await sandbox.sh(
        'test -S /run/buildkit/ssh_agent.0 && stat -c %i /run/buildkit/ssh_agent.0',
        {
          mounts: [{ type: 'ssh', socketPath, target: '/run/buildkit/ssh_agent.0' }],
        },
      );
      expect(result.stdout.trim()).toBe(String(statSync(socketPath).ino));
      expect(existsSync(join(result.upperDir, 'run'))).toBe(false);
    } finally {
      server.close();
    }
  });

  it('serialises steps on a locked cache mount and isolates private ones', async (ctx) => {
    requires(ctx, ...needs);
    const cache = (name: string, sharing: 'locked' | 'private' | 'shared') => ({
      mounts: [
        { type: 'cache', source: join(sandbox.base, name), target: '/cache', sharing },
      ] as const,
    });
    // Each step notes when it holds the cache; a locked cache never has two holders.
    const hold = 'echo start >> /cache/log; sleep 0.3; echo end >> /cache/log';
    await Promise.all([
      sandbox.sh(hold, cache('locked-cache', 'locked')),
      sandbox.sh(hold, cache('locked-cache', 'locked')),
    ]);
    const locked = readFileSync(join(sandbox.base, 'locked-cache/log'), 'utf8').trim().split('\n');
    expect(locked).toEqual(['start', 'end', 'start', 'end']);

    await Promise.all([
      sandbox.sh(hold, cache('shared-cache', 'shared')),
      sandbox.sh(hold, cache('shared-cache', 'shared')),
    ]);
    const shared = readFileSync(join(sandbox.base, 'shared-cache/log'), 'utf8').trim().split('\n');
    expect(shared.slice(0, 2)).toEqual(['start', 'start']);

    const privateRuns = await Promise.all([
      sandbox.sh(
        'echo one >> /cache/log; sleep 0.3; cat /cache/log',
        cache('private-cache', 'private'),
      ),
      sandbox.sh(
        'echo two >> /cache/log; sleep 0.3; cat /cache/log',
        cache('private-cache', 'private'),
      ),
    ]);
    // Concurrent private users never see each other's writes.
    expect(privateRuns.map((run) => run.stdout.trim().split('\n').length)).toEqual([1, 1]);
  });

  it('network default has lo and eth0 of its own, host the host network, none only lo', async (ctx) => {
    requires(ctx, ...needs);
    // Steps' veths (tbuild<n>) come and go as steps of this and other processes run.
    const withoutSteps = (names: string[]): string[] =>
      names.filter((name) => !name.startsWith('tbuild'));
    const host = withoutSteps(interfaces(readFileSync('/proc/net/dev', 'utf8')));
    const inDefault = await sandbox.sh('cat /proc/net/dev', { network: 'default' });
    const inHost = await sandbox.sh('cat /proc/net/dev', { network: 'host' });
    const inNone = await sandbox.sh('cat /proc/net/dev', { network: 'none' });
    expect(interfaces(inDefault.stdout)).toEqual(['eth0', 'lo']);
    expect(withoutSteps(interfaces(inHost.stdout))).toEqual(host);
    expect(host).toContain('lo');
    expect(host.length).toBeGreaterThan(1);
    expect(interfaces(inNone.stdout)).toEqual(['lo']);
  });

  it('reaches a service on the host loopback only with network host', async (ctx) => {
    requires(ctx, ...needs);
    const server = createServer((connection) => connection.end('host service\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const connect = `nc -w 5 127.0.0.1 ${String(port)} </dev/null || echo refused`;
    try {
      expect((await sandbox.sh(connect, { network: 'host' })).stdout).toBe('host service\n');
      for (const network of ['default', 'none'] as const) {
        expect((await sandbox.sh(connect, { network })).stdout, network).toBe('refused\n');
      }
    } finally {
      server.close();
    }
  });
});
