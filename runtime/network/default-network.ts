import {
  openSync,
  closeSync,
  fstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TbuildError, throwIfAborted, type Logger } from '../../core/index.js';
import { nativeFs } from '../native-fs.js';
import { clashingRoute, defaultRouteInterface, parseRouteTable } from './host-routes.js';
import { deleteTableScript, natTableScript, STEP_INTERFACE_PREFIX } from './nat-table.js';
import { runNft } from './nft.js';
import { DEFAULT_SUBNET, formatSubnet, parseSubnet } from './subnet.js';

/** What the sandbox helper needs for a default-network step (sandbox_network.c). */
export interface NatPlan {
  /** Where steps' /31s come from, `a.b.c.d/len`. */
  readonly subnet: string;
  /** The MTU of the host's way out, so steps never send what it would have to fragment; 0: unknown. */
  readonly mtu: number;
}

/** Machine-wide: the nftables table is shared by every tbuild process of a network namespace. */
export const DEFAULT_NETWORK_STATE_DIR = '/run/tbuild/network';

const FIRST_POLL_MS = 2;
const LAST_POLL_MS = 100;

/**
 * The default network's host side for one process: the nftables table (nat-table.ts)
 * and IP forwarding, set up on first use and taken down by the last process to close.
 *
 * Who uses it is a flock on `<stateDir>/netns-<inode>.lock`, one file per network
 * namespace: each user holds it shared from before it installs the table until it
 * closes; a closing process that then gets it exclusive is the last, deletes the
 * table and the file. The kernel drops a dead process's lock, so a killed user leaves
 * only the table and the file, which {@link removeStaleNetworkState} removes (every
 * command that opens a root calls it). While an exclusive holder tears down, a new
 * user waits, then finds its file unlinked and opens the next one.
 */
export class DefaultNetwork {
  readonly #stateDir: string;
  readonly #logger: Logger;
  #ready: Promise<NatPlan> | undefined;
  #lockFd: number | undefined;

  constructor(options: { readonly stateDir?: string; readonly logger: Logger }) {
    this.#stateDir = options.stateDir ?? DEFAULT_NETWORK_STATE_DIR;
    this.#logger = options.logger;
  }

  /**
   * Sets the host side up once; later calls share the first's result. The setup itself
   * is not cancelled with the step that started it (other steps may be waiting on it),
   * and it waits only while another process removes the table, a few ms.
   */
  async ready(signal: AbortSignal): Promise<NatPlan> {
    throwIfAborted(signal);
    this.#ready ??= this.#setUp();
    const ready = this.#ready;
    // A failed setup is tried again by the next step.
    ready.catch(() => {
      if (this.#ready === ready) this.#ready = undefined;
    });
    return ready;
  }

  async #setUp(): Promise<NatPlan> {
    const subnet = parseSubnet(DEFAULT_SUBNET);
    const routes = parseRouteTable(readFileSync('/proc/net/route', 'utf8'));
    const clash = clashingRoute(routes, subnet, STEP_INTERFACE_PREFIX);
    if (clash !== undefined) {
      throw new TbuildError(
        'TB_RUNTIME_NETWORK',
        `the build subnet ${formatSubnet(subnet)} overlaps the host's route ${clash}`,
        { hint: 'use --network=host --allow network.host, or free that subnet' },
      );
    }
    const uplink = defaultRouteInterface(routes);
    const mtu = uplink === undefined ? 0 : readNumber(`/sys/class/net/${uplink}/mtu`);
    this.#lockFd = await lockShared(lockPath(this.#stateDir));
    enableForwarding(this.#logger);
    await runNft(natTableScript(), "install the default network's nftables table");
    return { subnet: formatSubnet(subnet), mtu };
  }

  /** Stops using the network; the last process of the namespace removes the table. */
  async close(): Promise<void> {
    await this.#ready?.catch(() => undefined);
    const fd = this.#lockFd;
    this.#ready = undefined;
    this.#lockFd = undefined;
    if (fd === undefined) return;
    try {
      if (nativeFs.tryLockExclusive(fd)) await removeTable(lockPath(this.#stateDir), fd);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Removes the table and lock file killed tbuild processes left in this network
 * namespace, when no live process uses the network. Cheap when there is nothing:
 * a stat of the lock file.
 */
export async function removeStaleNetworkState(
  stateDir: string = DEFAULT_NETWORK_STATE_DIR,
): Promise<boolean> {
  const path = lockPath(stateDir);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    if (!nativeFs.tryLockExclusive(fd) || !isStillAt(fd, path)) return false;
    await removeTable(path, fd);
    return true;
  } finally {
    closeSync(fd);
  }
}

/** With the lock held exclusive: the table goes first, then the file (waiters then reopen). */
async function removeTable(path: string, fd: number): Promise<void> {
  if (!isStillAt(fd, path)) return;
  await runNft(deleteTableScript(), "remove the default network's nftables table");
  unlinkSync(path);
}

/** The lock file of this process's network namespace: the table lives in that namespace. */
function lockPath(stateDir: string): string {
  return join(stateDir, `netns-${String(statSync('/proc/self/ns/net').ino)}.lock`);
}

/** Polls (a blocking flock would hold a libuv thread) until the lock is held shared. */
async function lockShared(path: string): Promise<number> {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o755 });
  let pause = FIRST_POLL_MS;
  for (;;) {
    const fd = openSync(path, 'a', 0o644);
    let held = false;
    try {
      while (!nativeFs.tryLockShared(fd)) {
        await sleep(pause);
        pause = Math.min(pause * 2, LAST_POLL_MS);
      }
      held = isStillAt(fd, path);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    if (held) return fd;
    closeSync(fd);
  }
}

function isStillAt(fd: number, path: string): boolean {
  try {
    const mine = fstatSync(fd);
    const current = statSync(path);
    return mine.ino === current.ino && mine.dev === current.dev;
  } catch {
    return false;
  }
}

/**
 * NAT needs the host to forward IPv4 (Docker turns it on the same way). It is one
 * switch for every interface: left on when the table goes.
 */
function enableForwarding(logger: Logger): void {
  const path = '/proc/sys/net/ipv4/ip_forward';
  if (readNumber(path) === 1) return;
  try {
    writeFileSync(path, '1\n');
    logger.info('turned on IPv4 forwarding for the default network', { path });
  } catch (error) {
    throw new TbuildError(
      'TB_RUNTIME_NETWORK',
      `cannot turn on IPv4 forwarding (${path}): ${(error as Error).message}`,
      { hint: 'the default network needs root', cause: error },
    );
  }
}

function readNumber(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}
