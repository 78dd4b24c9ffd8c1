import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeBuildPath } from '../../../runtime/index.js';
import { requires } from '../../harness/index.js';
import { openSandbox, type Sandbox } from './fixture.js';

let sandbox: Sandbox;
beforeAll(() => {
  sandbox = openSandbox();
});
afterAll(() => sandbox.close());

const needs = ['root', 'overlay', 'busybox'] as const;

describe('runtime isolation', () => {
  it('cannot see or signal host processes', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh(
      `ls /proc | grep -c '^[0-9]'; kill -0 ${String(process.pid)} && echo signalled || echo denied`,
    );
    // PID 1 (init), the shell, ls and grep: nothing of the host.
    expect(Number(result.stdout.split('\n')[0])).toBeLessThanOrEqual(5);
    expect(result.stdout).toContain('denied');
    expect(readFileSync(`/proc/${String(process.pid)}/status`, 'utf8')).toContain('State');
  });

  it('cannot write /proc/sys, mount, unshare or read /proc/1/exe', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh(
      [
        'echo evil > /proc/sys/kernel/domainname && echo wrote-proc-sys',
        'mkdir -p /mnt/x; mount -t tmpfs none /mnt/x && echo mounted',
        'unshare -n true && echo unshared',
        'readlink /proc/1/exe && echo read-exe',
        'ls /proc/1/root/ >/dev/null && echo read-root',
        'echo done',
      ].join('; '),
    );
    expect(result.stdout).toBe('done\n');
    expect(result.stderr).toMatch(/Read-only file system/);
  });

  it('lets mknod make device nodes that cannot be opened (nodev)', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh(
      'mknod /sda b 8 0 && echo made; head -c 1 /sda >/dev/null && echo read-disk; mknod /mem c 1 1 && (head -c 1 /mem >/dev/null && echo read-mem); echo done',
    );
    expect(result.stdout).toBe('made\ndone\n');
    expect(result.stderr).toMatch(/Permission denied/);
  });

  it('keeps a chroot escape inside the sandbox (pivot_root, not chroot)', async (ctx) => {
    requires(ctx, ...needs);
    const escape = nativeBuildPath('chroot-escape');
    const marker = join(sandbox.base, 'host-only-marker');
    mkdirSync(marker, { recursive: true });
    const result = await sandbox.sh('/escape; ls /', {
      mounts: [{ type: 'bind', source: escape, target: '/escape', readonly: true }],
    });
    const listing = result.stdout.split('\n');
    expect(listing).toContain('bin');
    expect(listing).toContain('escape');
    // The host's root has /work and /tmp/tbt/…; the sandbox root has neither.
    expect(listing).not.toContain('work');
    expect(result.stdout).not.toContain('host-only-marker');
    expect(existsSync('/work')).toBe(true);
  });

  it('network none has only lo, and it is up', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh(
      'ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping',
      {
        network: 'none',
      },
    );
    expect(result.stdout).toBe('lo\nunknown\nping\n');
  });

  it('no host file descriptor reaches the command', async (ctx) => {
    requires(ctx, ...needs);
    // A second command keeps the shell from exec'ing ls, so $$ is the shell, not ls.
    const result = await sandbox.sh('ls /proc/$$/fd; true');
    expect(result.stdout.split('\n').filter((line) => line !== '')).toEqual(['0', '1', '2']);
  });

  it('masks and read-only paths, Docker capabilities and seccomp are in place', async (ctx) => {
    requires(ctx, ...needs);
    const result = await sandbox.sh(
      'grep -E "^(CapEff|CapBnd|Seccomp|NoNewPrivs):" /proc/self/status; cat /proc/timer_list | wc -c; grep -E " /proc/sys | /sys " /proc/self/mounts | cut -d" " -f2,4 | cut -d, -f1',
    );
    expect(result.stdout).toBe(
      'CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t0\nSeccomp:\t2\n0\n/sys ro\n/proc/sys ro\n',
    );
  });

  it('mounts secrets on tmpfs, tmpfs, read-only binds and caches; removes stubs', async (ctx) => {
    requires(ctx, ...needs);
    const context = join(sandbox.base, 'ctx');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'file'), 'from context');
    const cache = join(sandbox.base, 'cache');
    const spec = {
      mounts: [
        { type: 'bind', source: context, target: '/src/ctx', readonly: true },
        { type: 'cache', source: cache, target: '/var/cache/x', sharing: 'locked' },
        { type: 'tmpfs', target: '/scratch', sizeBytes: 1024 * 1024 },
        {
          type: 'secret',
          target: '/run/secrets/token',
          data: Buffer.from('s3cret'),
          uid: 1000,
          gid: 1000,
          mode: 0o440,
        },
      ],
    } as const;
    const first = await sandbox.sh(
      'cat /src/ctx/file; echo; echo x > /src/ctx/new || echo ro; cat /run/secrets/token; echo; stat -c "%a %u:%g" /run/secrets/token; grep " /scratch " /proc/self/mounts | cut -d" " -f3; echo 1 >> /var/cache/x/count',
      spec,
    );
    expect(first.stdout).toBe('from context\nro\ns3cret\n440 1000:1000\ntmpfs\n');
    const second = await sandbox.sh('wc -l < /var/cache/x/count', spec);
    expect(second.stdout.trim()).toBe('1');
    // Stubs made for the mount targets are gone from the layer; nothing of the secret is there.
    for (const path of ['src', 'scratch', 'run', 'var']) {
      expect(existsSync(join(first.upperDir, path))).toBe(false);
    }
  });
});
