import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires, runTbuild, useBuildRoot } from '../harness/index.js';

/** A Dockerfile cannot widen its own sandbox: RUN --network=host needs `--allow`, as in BuildKit. */
let root = '';
let work = '';

useBuildRoot('tbuild-allow-', (dirs) => {
  ({ root, work } = dirs);
});

function contextWith(name: string, dockerfile: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

describe('--allow', () => {
  it('refuses RUN --network=host without --allow network.host, and runs it with it', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const dir = contextWith(
      'host',
      'FROM busybox\nRUN --network=host tail -n +3 /proc/net/dev | wc -l > /interfaces\n',
    );
    const denied = runTbuild(['build', '--progress=plain', dir], { root });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('RUN --network=host needs the network.host entitlement');
    expect(denied.stderr).toContain('--allow network.host');
    expect(denied.stderr).toMatch(/Dockerfile:2/);

    const out = join(work, 'host-out');
    const allowed = runTbuild(
      ['build', '--progress=plain', '--allow', 'network.host', '-o', `type=local,dest=${out}`, dir],
      { root },
    );
    expect(allowed.code, allowed.stderr).toBe(0);
    // The host's interfaces, not only the loopback of a network namespace of its own.
    expect(Number(readFileSync(join(out, 'interfaces'), 'utf8').trim())).toBeGreaterThan(1);
  });

  it('rejects unknown entitlements as a usage error and says insecure mode is not supported', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const dir = contextWith('insecure', 'FROM busybox\nRUN --security=insecure true\n');
    const unknown = runTbuild(['build', '--allow', 'device', dir], { root });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('invalid --allow "device"');
    const denied = runTbuild(['build', '--progress=plain', dir], { root });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('security.insecure entitlement');
    const unsupported = runTbuild(
      ['build', '--progress=plain', '--allow', 'network.host,security.insecure', dir],
      { root },
    );
    expect(unsupported.code).toBe(1);
    expect(unsupported.stderr).toContain('RUN --security=insecure is not supported yet');
  });
});
