import { encodeRawText, TbuildError } from '../core/index.js';
/*
 * The helper's config encoding (runtime/native/src/sandbox_config.c): records of a
 * 1-byte tag, a 4-byte little-endian length and the bytes. Binary and tiny, so the
 * C side needs no JSON parser.
 */

export const ConfigTag = {
  lower: 1,
  upper: 2,
  work: 3,
  rootfs: 4,
  mount: 10,
  arg: 20,
  env: 21,
  cwd: 22,
  uid: 23,
  gid: 24,
  group: 25,
  hostname: 26,
  network: 27,
  hosts: 28,
  resolv: 29,
  seccomp: 30,
  rlimit: 31,
  cgroupProcs: 32,
  cgroupNs: 33,
  cgroupClone: 34,
  /** The directory the lower, upper and work paths are relative to; the helper mounts from there. */
  layerDir: 35,
  /** The default network (network `nat`): the subnet steps' /31s come from, and the veth MTU. */
  netSubnet: 48,
  netMtu: 49,
  /** Bytes of /dev/shm; without it the helper mounts Docker's 64 MiB. */
  shmSize: 36,
} as const;

export interface HelperMount {
  readonly kind: 'bind' | 'tmpfs' | 'secret';
  /** bind: host path; tmpfs: mount options; secret: unused. */
  readonly source: string;
  readonly dest: string;
  readonly readonly: boolean;
  readonly uid?: number;
  readonly gid?: number;
  readonly mode?: number;
  readonly data?: Uint8Array;
}

export class ConfigWriter {
  readonly #chunks: Buffer[] = [];

  add(tag: number, value: string | Uint8Array): this {
    if (typeof value === 'string' && value.includes('\0')) {
      // The C side treats strings as NUL-terminated: a NUL would silently cut them.
      throw new TbuildError('TB_RUNTIME_SPEC', 'a sandbox string contains a NUL byte', {
        details: { tag },
      });
    }
    // Raw text (core/raw-text.ts): bytes of the Dockerfile that are not UTF-8 go back as they were.
    const bytes = typeof value === 'string' ? encodeRawText(value) : Buffer.from(value);
    const header = Buffer.alloc(5);
    header.writeUInt8(tag, 0);
    header.writeUInt32LE(bytes.length, 1);
    this.#chunks.push(header, bytes);
    return this;
  }

  mount(mount: HelperMount): this {
    for (const text of [mount.source, mount.dest]) {
      if (text.includes('\n'))
        throw new TbuildError(
          'TB_RUNTIME_SPEC',
          `a mount path contains a newline: ${JSON.stringify(text)}`,
        );
    }
    const head = [
      mount.kind,
      mount.source,
      mount.dest,
      mount.readonly ? '1' : '0',
      String(mount.uid ?? 0),
      String(mount.gid ?? 0),
      (mount.mode ?? 0o400).toString(8),
      '',
    ].join('\n');
    return this.add(
      ConfigTag.mount,
      Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(mount.data ?? new Uint8Array())]),
    );
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}
