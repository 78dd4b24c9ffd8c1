import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  requires,
  runTbuild,
  runTbuildAsync,
  startTbuildService,
  useBuildRoot,
  writeContext,
} from '../harness/index.js';

/**
 * Issue #17: a RUN on the default network has a network namespace of its own behind the
 * host's NAT (docs/runtime.md "Network"): out to the world and DNS, but nothing that
 * listens on the host, on loopback or on its other addresses. `--network=host` (with the
 * entitlement) keeps the host's network; nothing of the network outlives a build.
 */
let root = '';
let work = '';
useBuildRoot('tbuild-network-', (dirs) => {
  ({ root, work } = dirs);
});

const needs = ['root', 'overlay', 'busybox', 'nftables'] as const;

async function listen(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer((connection) => connection.end('host service\n'));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : 0 };
}

/** One IPv4 address of this host other than loopback (where a 0.0.0.0 listener answers too). */
function hostAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address;
  if (address === undefined) throw new Error('this host has no non-loopback IPv4 address');
  return address;
}

/** A build whose RUN tries both listeners and records what it got, exported to a directory. */
async function tryListeners(name: string, runFlags: string, buildFlags: string[]) {
  const loopback = await listen('127.0.0.1');
  const anyAddress = await listen('0.0.0.0');
  try {
    const connect = (ip: string, port: number): string =>
      `(nc -w 5 ${ip} ${String(port)} </dev/null || echo refused)`;
    const context = await writeContext(join(work, name), {
      Dockerfile: `FROM busybox
RUN ${runFlags} ${connect('127.0.0.1', loopback.port)} > /loopback; \\
    ${connect(hostAddress(), anyAddress.port)} > /address
`,
    });
    const out = join(work, `${name}-out`);
    // Async: the listeners answer from this process while the build runs.
    const result = await runTbuildAsync(
      ['build', '--progress=plain', ...buildFlags, '-o', `type=local,dest=${out}`, context],
      { root },
    );
    expect(result.code, result.stderr).toBe(0);
    return {
      loopback: readFileSync(join(out, 'loopback'), 'utf8'),
      address: readFileSync(join(out, 'address'), 'utf8'),
    };
  } finally {
    loopback.server.close();
    anyAddress.server.close();
  }
}

describe('the default network', () => {
  it("cannot reach the host's loopback or its other addresses; --network=host can", async (ctx) => {
    requires(ctx, ...needs);
    const isolated = await tryListeners('isolated', '', []);
    expect(isolated).toEqual({ loopback: 'refused\n', address: 'refused\n' });
    const shared = await tryListeners('shared', '--network=host', ['--allow', 'network.host']);
    expect(shared).toEqual({ loopback: 'host service\n', address: 'host service\n' });
  }, 120_000);

  it('resolves names and fetches over HTTP from the outside world', async (ctx) => {
    requires(ctx, ...needs, 'debian-mirror');
    const context = await writeContext(join(work, 'outbound'), {
      Dockerfile: `FROM busybox
RUN nslookup deb.debian.org > /dns && \\
    wget -q -O /release http://deb.debian.org/debian/dists/bookworm/Release
`,
    });
    const out = join(work, 'outbound-out');
    const result = runTbuild(
      ['build', '--progress=plain', '-o', `type=local,dest=${out}`, context],
      {
        root,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(out, 'dns'), 'utf8')).toMatch(/Address:? .*\d+\.\d+\.\d+\.\d+/);
    expect(readFileSync(join(out, 'release'), 'utf8')).toContain('Origin: Debian');
  }, 120_000);

  it('gives default steps lo and eth0, none only lo', async (ctx) => {
    requires(ctx, ...needs);
    const interfaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '";
    const context = await writeContext(join(work, 'interfaces'), {
      Dockerfile: `FROM busybox
RUN ${interfaces} > /default
RUN --network=none ${interfaces} > /none
`,
    });
    const out = join(work, 'interfaces-out');
    const result = runTbuild(
      ['build', '--progress=plain', '-o', `type=local,dest=${out}`, context],
      {
        root,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(out, 'default'), 'utf8')).toBe('eth0 lo ');
    expect(readFileSync(join(out, 'none'), 'utf8')).toBe('lo ');
  }, 120_000);
});

/**
 * The leftover checks run tbuild in a network namespace of their own (unshare --net):
 * the nftables table, the veths and the lock file are per namespace, so builds of other
 * processes on this machine cannot make them pass or fail.
 */
function inOwnNetwork(script: string): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync('unshare', ['--net', 'sh', '-euc', script], {
    encoding: 'utf8',
    env: {
      ...process.env,
      TBUILD_ROOT: root,
      TBUILD: join(REPO_ROOT, 'bin/tbuild.js'),
      NODE: process.execPath,
    },
    timeout: 180_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Shell: what this namespace has left of the default network, once the steps' veths are gone. */
const LEFTOVERS = `
lock=/run/tbuild/network/netns-$(stat -L -c %i /proc/self/ns/net).lock
# A step's veth goes with its namespace, which the kernel tears down after its last process.
for i in $(seq 1 300); do ip -o link show | grep -q ' tbuild' || break; sleep 0.1; done
echo "links: $(ip -o link show | cut -d: -f2 | tr -d ' ' | tr '\\n' ' ')"
echo "ruleset: $(nft list ruleset | tr -d '\\n')"
echo "lock: $(test -e "$lock" && echo present || echo absent)"
`;

describe('nothing of the default network outlives a build', () => {
  it('after a build that passed and one whose RUN failed', async (ctx) => {
    requires(ctx, ...needs);
    const passing = await writeContext(join(work, 'passing'), {
      Dockerfile: 'FROM busybox\nRUN ip -o link show eth0 > /eth0\n',
    });
    const failing = await writeContext(join(work, 'failing'), {
      Dockerfile: 'FROM busybox\nRUN ip -o link show eth0 && exit 3\n',
    });
    const result = inOwnNetwork(`
ip link set lo up
"$NODE" "$TBUILD" build --progress=plain --no-cache ${passing} >/dev/null 2>&1 && echo "passing: ok"
"$NODE" "$TBUILD" build --progress=plain --no-cache ${failing} >/dev/null 2>&1 || echo "failing: failed"
${LEFTOVERS}`);
    expect(result.stdout, result.stderr).toBe(
      'passing: ok\nfailing: failed\nlinks: lo \nruleset: \nlock: absent\n',
    );
  }, 240_000);

  it('while another process still uses it, and once the last one is interrupted', async (ctx) => {
    requires(ctx, ...needs);
    const sleeping = await writeContext(join(work, 'long'), {
      Dockerfile: 'FROM busybox\nRUN sleep 600\n',
    });
    const quick = await writeContext(join(work, 'quick'), {
      Dockerfile: 'FROM busybox\nRUN ip -o link show eth0\n',
    });
    const result = inOwnNetwork(`
ip link set lo up
"$NODE" "$TBUILD" build --progress=plain --no-cache ${sleeping} >/dev/null 2>&1 &
long=$!
until ip -o link show | grep -q ' tbuild'; do kill -0 $long; sleep 0.05; done
# Another process builds beside it, on the same table, and ends first.
"$NODE" "$TBUILD" build --progress=plain --no-cache ${quick} >/dev/null 2>&1 && echo "quick: ok"
echo "while the long build runs: $(nft list tables)"
kill -TERM $long
wait $long || true
${LEFTOVERS}`);
    expect(result.stdout, result.stderr).toBe(
      'quick: ok\nwhile the long build runs: table inet tbuild\nlinks: lo \nruleset: \nlock: absent\n',
    );
  }, 240_000);

  it('after kill -9 of tbuild during a RUN: the step ends, and the next command removes the table', async (ctx) => {
    requires(ctx, ...needs);
    const sleeping = await writeContext(join(work, 'sleeping'), {
      Dockerfile: 'FROM busybox\nRUN sleep 600\n',
    });
    const result = inOwnNetwork(`
ip link set lo up
"$NODE" "$TBUILD" build --progress=plain --no-cache ${sleeping} >/dev/null 2>&1 &
tbuild=$!
# Until the step's veth is up (the build fails this test if it ends first).
until ip -o link show | grep -q ' tbuild'; do kill -0 $tbuild; sleep 0.05; done
kill -9 $tbuild
wait $tbuild || true
${LEFTOVERS}
"$NODE" "$TBUILD" du >/dev/null
echo "after du:"
${LEFTOVERS}`);
    // The helper died with tbuild and took the step with it, so its veth went; the table
    // and the lock file stay until a command opens the root.
    expect(result.stdout, result.stderr).toMatch(
      /^links: lo \nruleset: table inet tbuild \{.*\}\nlock: present\nafter du:\nlinks: lo \nruleset: \nlock: absent\n$/,
    );
  }, 240_000);
});

describe("the service's builds", () => {
  it("run on the default network too: a RUN cannot reach the service's own API", async (ctx) => {
    requires(ctx, ...needs);
    const service = await startTbuildService({ root });
    ctx.onTestFinished(async () => {
      await service.stop();
    });
    const port = new URL(service.url).port;
    const context = await writeContext(join(work, 'service'), {
      Dockerfile: `FROM busybox
RUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '; echo; \\
    wget -q -O - http://127.0.0.1:${port}/healthz || echo api-unreachable
`,
    });
    const tar = spawnSync('tar', ['-C', context, '-cf', '-', '.'], { maxBuffer: 1 << 20 });
    const submitted = await fetch(`${service.url}/v1/builds?no-cache=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-tar' },
      body: tar.stdout,
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    let status = '';
    for (let i = 0; i < 600 && !['succeeded', 'failed'].includes(status); i++) {
      if (i > 0) await sleep(200);
      status = (
        (await (await fetch(`${service.url}/v1/builds/${id}`)).json()) as { status: string }
      ).status;
    }
    const log = await (await fetch(`${service.url}/v1/builds/${id}/logs`)).text();
    expect(status, log).toBe('succeeded');
    expect(log).toContain('eth0 lo');
    expect(log).toContain('api-unreachable');
    expect(log).not.toContain('"status":"ok"');
  }, 180_000);
});
