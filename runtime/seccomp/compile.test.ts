import { describe, expect, it } from 'vitest';
import { compileSeccomp, type BpfInstruction } from './compile.js';
import { DOCKER_DEFAULT_PROFILE } from './docker-default.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';

const ALLOW = 0x7fff0000;
const errno = (value: number): number => 0x00050000 | value;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;

/** A small classic-BPF interpreter: enough to run what compileSeccomp emits. */
function run(
  program: readonly BpfInstruction[],
  nr: number,
  args: bigint[] = [],
  arch = AUDIT_ARCH_X86_64,
): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr, 0);
  data.writeUInt32LE(arch, 4);
  args.forEach((arg, i) => data.writeBigUInt64LE(BigInt.asUintN(64, arg), 16 + 8 * i));
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const op = program[pc];
    if (op === undefined) break;
    switch (op.code) {
      case 0x20:
        a = data.readUInt32LE(op.k);
        break;
      case 0x54:
        a = (a & op.k) >>> 0;
        break;
      case 0x06:
        return op.k;
      case 0x15:
        pc += a === op.k ? op.jt : op.jf;
        break;
      case 0x25:
        pc += a > op.k ? op.jt : op.jf;
        break;
      case 0x35:
        pc += a >= op.k ? op.jt : op.jf;
        break;
      default:
        throw new Error(`unknown opcode ${String(op.code)}`);
    }
  }
  throw new Error('fell off the end of the program');
}

const nr = (name: string): number => {
  const value = X86_64_SYSCALLS[name];
  if (value === undefined) throw new Error(`no syscall ${name}`);
  return value;
};

describe('compileSeccomp (Docker default profile)', () => {
  const program = compileSeccomp(DOCKER_DEFAULT_PROFILE);

  it('fits the kernel limit', () => {
    expect(program.length).toBeLessThan(4096);
  });

  it('allows ordinary syscalls', () => {
    for (const name of [
      'read',
      'write',
      'openat',
      'execve',
      'exit_group',
      'chroot',
      'mknodat',
      'setresuid',
    ]) {
      expect(run(program, nr(name)), name).toBe(ALLOW);
    }
  });

  it('denies privileged syscalls with EPERM', () => {
    for (const name of [
      'mount',
      'umount2',
      'pivot_root',
      'unshare',
      'setns',
      'bpf',
      'kexec_load',
      'init_module',
      'keyctl',
      'io_uring_setup',
      'sethostname',
      'open_by_handle_at',
      'reboot',
    ]) {
      expect(run(program, nr(name)), name).toBe(errno(1));
    }
  });

  it('returns ENOSYS for clone3 and for numbers beyond the table', () => {
    expect(run(program, nr('clone3'))).toBe(errno(38));
    expect(run(program, 999)).toBe(errno(38));
  });

  it('refuses x32 numbers and foreign architectures', () => {
    expect(run(program, 0x40000000 + nr('read'))).toBe(errno(1));
    expect(run(program, nr('read'), [], AUDIT_ARCH_I386)).toBe(errno(1));
  });

  it('allows clone only without namespace flags', () => {
    expect(run(program, nr('clone'), [0x01200011n])).toBe(ALLOW); // fork-like
    expect(run(program, nr('clone'), [0x00010000n | 0x20000000n])).toBe(errno(1)); // CLONE_NEWUTS
    expect(run(program, nr('clone'), [0x10000000n])).toBe(errno(1)); // CLONE_NEWUSER
  });

  it('checks socket families and personality values on all 64 bits', () => {
    expect(run(program, nr('socket'), [2n])).toBe(ALLOW);
    expect(run(program, nr('socket'), [40n])).toBe(errno(1));
    expect(run(program, nr('socket'), [38n])).toBe(errno(1));
    expect(run(program, nr('socket'), [(1n << 32n) | 40n])).toBe(ALLOW);
    expect(run(program, nr('personality'), [0x8n])).toBe(ALLOW);
    expect(run(program, nr('personality'), [0xffffffffn])).toBe(ALLOW);
    expect(run(program, nr('personality'), [0x1n])).toBe(errno(1));
  });
});

describe('compileSeccomp (custom profiles)', () => {
  it('uses the default errno and the first matching rule', () => {
    const program = compileSeccomp({
      defaultErrno: 13,
      rules: [
        { names: ['read'], action: { kind: 'allow' } },
        {
          names: ['write'],
          action: { kind: 'errno', errno: 5 },
          args: [{ index: 0, op: 'eq', value: 2n }],
        },
        { names: ['write'], action: { kind: 'allow' } },
      ],
    });
    expect(run(program, nr('read'))).toBe(ALLOW);
    expect(run(program, nr('write'), [2n])).toBe(errno(5));
    expect(run(program, nr('write'), [1n])).toBe(ALLOW);
    expect(run(program, nr('openat'))).toBe(errno(13));
  });
});
