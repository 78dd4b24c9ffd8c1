import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTbuildError } from '../../../core/index.js';
import { requires } from '../../harness/index.js';
import { openSandbox, type Sandbox } from './fixture.js';

let sandbox: Sandbox;
beforeAll(() => {
  sandbox = openSandbox();
});
afterAll(() => sandbox.close());

const needs = ['root', 'overlay', 'busybox'] as const;

/** Host pids whose command line contains `marker`. */
function hostProcessesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker))
        found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

describe('runtime behaviour', () => {
  it('reports exit codes and keeps stdout and stderr apart', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh('echo out; echo err >&2; exit 42');
    expect(result.exitCode).toBe(42);
    expect(result.signal).toBeUndefined();
    expect(result.stdout).toBe('out\n');
    expect(result.stderr).toBe('err\n');
    expect(result.oomKilled).toBe(false);
  });

  it('reports a command killed by a signal as 128+n', async (ctx) => {
    requires(ctx, ...needs);
    const killed = await sandbox.sh('kill -KILL $$');
    expect(killed.exitCode).toBe(137);
    expect(killed.signal).toBe('SIGKILL');
    const terminated = await sandbox.sh('kill -TERM $$');
    expect(terminated.exitCode).toBe(143);
    expect(terminated.signal).toBe('SIGTERM');
  });

  it('passes env, defaults PATH and HOME, and dedupes (last wins)', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh('echo "$A|$B|$PATH|$HOME"', { env: ['A=1', 'B=x', 'A=2'] });
    expect(result.stdout).toBe(
      '2|x|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/root\n',
    );
  });

  it('creates a missing cwd owned by the user', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh('pwd; stat -c %u:%g /work/dir /work', {
      cwd: '/work/dir',
      user: 'alice',
    });
    expect(result.stdout).toBe('/work/dir\n1000:1000\n1000:1000\n');
  });

  it('resolves users and groups against the rootfs', async (ctx) => {
    requires(ctx, ...needs);
    const byName = await sandbox.sh('id; echo $HOME', { user: 'alice' });
    expect(byName.stdout).toBe(
      'uid=1000(alice) gid=1000(alice) groups=29(audio),50(staff),1000(alice)\n/home/alice\n',
    );
    const explicitGroup = await sandbox.sh('id', { user: 'alice:staff' });
    expect(explicitGroup.stdout).toBe('uid=1000(alice) gid=50(staff) groups=50(staff)\n');
    const numeric = await sandbox.sh('id', { user: '1234' });
    expect(numeric.stdout).toBe('uid=1234 gid=0(root) groups=0(root)\n');
    const pair = await sandbox.sh('id', { user: '1001:29' });
    expect(pair.stdout).toBe('uid=1001(bob) gid=29(audio) groups=29(audio)\n');
    await expect(sandbox.sh('true', { user: 'mallory' })).rejects.toSatisfy((error) =>
      isTbuildError(error, 'TB_RUNTIME_USER'),
    );
  });

  it('gives a non-root user no effective capabilities', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh('grep -E "^Cap(Eff|Bnd)" /proc/self/status', {
      user: 'alice',
    });
    expect(result.stdout).toBe('CapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n');
  });

  it('sets the hostname, a read-only hosts and resolv.conf, and umask 022', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh(
      'hostname; cat /etc/hosts; test -s /etc/resolv.conf && echo resolv; umask; echo x >> /etc/hosts || echo ro',
      { extraHosts: [{ host: 'registry.test', ip: '10.1.2.3' }] },
    );
    expect(result.stdout).toBe(
      'buildkitsandbox\n127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n10.1.2.3\tregistry.test\nresolv\n0022\nro\n',
    );
    // The generated files are mounts: nothing of them (or of their stubs) lands in the layer.
    expect(existsSync(join(result.upperDir, 'etc', 'hosts'))).toBe(false);
  });

  it('carries megabytes of output', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh("head -c 8000000 /dev/zero | tr '\\0' a");
    expect(result.stdout.length).toBe(8_000_000);
    expect(result.stdout.replaceAll('a', '')).toBe('');
  });

  it('cancel kills the whole tree within a second and leaves no mount', async (ctx) => {
    requires(ctx, ...needs);
    const controller = new AbortController();
    const run = sandbox.sh('sleep 1717 & sleep 1718 & sleep 1719', {}, controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hostProcessesWith('sleep\u00001717').length).toBe(1);
    const aborted = Date.now();
    controller.abort();
    await expect(run).rejects.toSatisfy((error) => isTbuildError(error, 'TB_CANCELED'));
    expect(Date.now() - aborted).toBeLessThan(1000);
    expect(hostProcessesWith('sleep\u00001717')).toEqual([]);
    expect(hostProcessesWith('sleep\u00001719')).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(sandbox.base);
  });

  it('reaps zombies and ends with the command even if children linger', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh(
      'for i in 1 2 3 4 5; do sh -c "sleep 0.1 & exit 0"; done; sleep 0.5; ps -o stat,comm | grep -c "^Z" ; sleep 1720 & exit 0',
    );
    expect(result.stdout).toBe('0\n');
    expect(result.exitCode).toBe(0);
    expect(hostProcessesWith('sleep\u00001720')).toEqual([]);
  });

  it('reports an OOM kill under a cgroup memory limit', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh('awk \'BEGIN { s = "x"; while (1) s = s s }\'', {
      limits: { memoryBytes: 32 * 1024 * 1024 },
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.oomKilled).toBe(true);
    const fine = await sandbox.sh('true', { limits: { memoryBytes: 64 * 1024 * 1024, pids: 64 } });
    expect(fine.oomKilled).toBe(false);
  });

  it('enforces a pids limit', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh(
      'for i in $(seq 1 40); do sleep 5 & done 2>/dev/null; jobs -p | wc -l',
      { limits: { pids: 10 } },
    );
    expect(Number(result.stdout.trim())).toBeLessThan(10);
  });

  it('fails with TB_RUNTIME_EXEC for a missing command', async (ctx) => {
    requires(ctx, ...needs);
    const { upperDir, workDir } = await import('../../harness/index.js').then((h) =>
      h.freshOverlayDirs(sandbox.base),
    );
    await expect(
      sandbox.executor.run(
        {
          rootfs: { lowerDirs: [sandbox.lower], upperDir, workDir },
          process: { args: ['no-such-command'], env: [] },
        },
        { signal: new AbortController().signal },
      ),
    ).rejects.toSatisfy((error) => isTbuildError(error, 'TB_RUNTIME_EXEC'));
  });
});
