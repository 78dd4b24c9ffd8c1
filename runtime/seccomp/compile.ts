import { TbuildError } from '../../core/index.js';
import type { SeccompAction, SeccompArgCheck, SeccompProfile, SeccompRule } from './profile.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';

/*
 * Classic BPF for seccomp without libseccomp (research/sandbox.md §1.10). Layout:
 *   check the architecture; refuse x32 numbers (>= 0x40000000);
 *   ENOSYS above the highest syscall we know, so libc falls back from new calls;
 *   one block per conditional syscall (its rules in order);
 *   then the unconditional syscalls as sorted ranges, each with its own returns,
 *   so every jump stays short (cBPF jump offsets are 8 bits).
 */

const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGT_K = 0x25;
const BPF_JGE_K = 0x35;
const BPF_AND_K = 0x54;
const BPF_RET_K = 0x06;

const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const BPF_MAXINSNS = 4096;

/** Offsets in struct seccomp_data. */
const NR_OFFSET = 0;
const ARCH_OFFSET = 4;
const argLow = (index: number): number => 16 + 8 * index;
const argHigh = (index: number): number => 20 + 8 * index;

export interface BpfInstruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

/** A jump target inside a block: an instruction index, resolved when the block is emitted. */
type Target = { readonly label: string } | 'next';
interface PendingJump {
  readonly code: number;
  readonly k: number;
  readonly jt: Target;
  readonly jf: Target;
}
type Pending = PendingJump | { readonly label: string } | BpfInstruction;

const stmt = (code: number, k: number): BpfInstruction => ({ code, jt: 0, jf: 0, k: k >>> 0 });
const ret = (action: SeccompAction): BpfInstruction =>
  stmt(
    BPF_RET_K,
    action.kind === 'allow' ? SECCOMP_RET_ALLOW : SECCOMP_RET_ERRNO | (action.errno & 0xffff),
  );

/** Resolves labels in a block to relative jump offsets. */
function assemble(items: readonly Pending[]): BpfInstruction[] {
  const labels = new Map<string, number>();
  let index = 0;
  for (const item of items) {
    if ('label' in item) labels.set(item.label, index);
    else index++;
  }
  const out: BpfInstruction[] = [];
  for (const item of items) {
    if ('label' in item) continue;
    if (typeof item.jt === 'number' && typeof item.jf === 'number') {
      out.push(item as BpfInstruction);
      continue;
    }
    const here = out.length;
    const offset = (target: Target): number => {
      if (target === 'next') return 0;
      const at = labels.get(target.label);
      if (at === undefined)
        throw new TbuildError('TB_INTERNAL', `unknown BPF label ${target.label}`);
      const distance = at - here - 1;
      if (distance < 0 || distance > 255) {
        throw new TbuildError(
          'TB_RUNTIME_SECCOMP',
          'a seccomp rule block is too long to jump over',
        );
      }
      return distance;
    };
    const jump = item as PendingJump;
    out.push({ code: jump.code, k: jump.k >>> 0, jt: offset(jump.jt), jf: offset(jump.jf) });
  }
  return out;
}

/** Instructions that fall through when `check` passes and jump to `fail` when it does not. */
function argCheck(check: SeccompArgCheck, fail: Target, id: string): Pending[] {
  const low = Number(check.value & 0xffffffffn);
  const high = Number((check.value >> 32n) & 0xffffffffn);
  switch (check.op) {
    case 'eq':
      return [
        stmt(BPF_LD_W_ABS, argLow(check.index)),
        { code: BPF_JEQ_K, k: low, jt: 'next', jf: fail },
        stmt(BPF_LD_W_ABS, argHigh(check.index)),
        { code: BPF_JEQ_K, k: high, jt: 'next', jf: fail },
      ];
    case 'ne': {
      const pass = { label: `${id}-ne` };
      return [
        stmt(BPF_LD_W_ABS, argLow(check.index)),
        { code: BPF_JEQ_K, k: low, jt: 'next', jf: pass },
        stmt(BPF_LD_W_ABS, argHigh(check.index)),
        { code: BPF_JEQ_K, k: high, jt: fail, jf: 'next' },
        pass,
      ];
    }
    case 'masked-eq': {
      const mask = check.mask ?? 0xffffffffffffffffn;
      return [
        stmt(BPF_LD_W_ABS, argLow(check.index)),
        stmt(BPF_AND_K, Number(mask & 0xffffffffn)),
        { code: BPF_JEQ_K, k: low, jt: 'next', jf: fail },
        stmt(BPF_LD_W_ABS, argHigh(check.index)),
        stmt(BPF_AND_K, Number((mask >> 32n) & 0xffffffffn)),
        { code: BPF_JEQ_K, k: high, jt: 'next', jf: fail },
      ];
    }
  }
}

/** One syscall with argument-dependent rules: try each rule, else the default errno. */
function conditionalBlock(nr: number, rules: readonly SeccompRule[], defaultErrno: number) {
  const items: Pending[] = [{ code: BPF_JEQ_K, k: nr, jt: 'next', jf: { label: 'end' } }];
  rules.forEach((rule, r) => {
    const fail = { label: `rule-${String(r)}-fail` };
    (rule.args ?? []).forEach((check, c) => {
      items.push(...argCheck(check, fail, `r${String(r)}c${String(c)}`));
    });
    items.push(ret(rule.action), fail);
  });
  items.push(ret({ kind: 'errno', errno: defaultErrno }), { label: 'end' });
  return assemble(items);
}

/** Compiles a profile for x86_64 into seccomp BPF instructions. */
export function compileSeccomp(profile: SeccompProfile): BpfInstruction[] {
  const known = X86_64_SYSCALLS;
  const maxNr = Math.max(...Object.values(known));
  const simple = new Map<number, SeccompAction>();
  const conditional = new Map<number, SeccompRule[]>();
  for (const rule of profile.rules) {
    for (const name of rule.names) {
      const nr = known[name];
      if (nr === undefined) continue; // not a syscall on this architecture
      // Once a call has a conditional rule, later rules for it are alternatives in order.
      if ((rule.args !== undefined && rule.args.length > 0) || conditional.has(nr)) {
        conditional.set(nr, [...(conditional.get(nr) ?? []), rule]);
      } else if (!conditional.has(nr) && !simple.has(nr)) {
        simple.set(nr, rule.action);
      }
    }
  }
  const deny = ret({ kind: 'errno', errno: profile.defaultErrno });
  const program: BpfInstruction[] = [
    stmt(BPF_LD_W_ABS, ARCH_OFFSET),
    { code: BPF_JEQ_K, k: AUDIT_ARCH_X86_64, jt: 1, jf: 0 },
    deny,
    stmt(BPF_LD_W_ABS, NR_OFFSET),
    { code: BPF_JGE_K, k: X32_SYSCALL_BIT, jt: 0, jf: 1 },
    deny,
    { code: BPF_JGT_K, k: maxNr, jt: 0, jf: 1 },
    ret({ kind: 'errno', errno: 38 }),
  ];
  for (const [nr, rules] of [...conditional].sort((a, b) => a[0] - b[0])) {
    // A simple rule for the same call (e.g. allow) becomes the last alternative.
    const fallback = simple.get(nr);
    simple.delete(nr);
    program.push(
      ...conditionalBlock(
        nr,
        fallback ? [...rules, { names: [], action: fallback }] : rules,
        profile.defaultErrno,
      ),
    );
  }
  // Runs of consecutive numbers with the same action: "jgt hi → next; jge lo → act; else deny".
  const numbers = [...simple.keys()].sort((a, b) => a - b);
  for (let i = 0; i < numbers.length;) {
    const low = numbers[i] ?? 0;
    const action = simple.get(low) ?? { kind: 'allow' };
    let high = low;
    while (
      numbers[i + 1] === high + 1 &&
      JSON.stringify(simple.get(high + 1)) === JSON.stringify(action)
    ) {
      high++;
      i++;
    }
    i++;
    program.push(
      { code: BPF_JGT_K, k: high, jt: 3, jf: 0 },
      { code: BPF_JGE_K, k: low, jt: 0, jf: 1 },
      ret(action),
      deny,
    );
  }
  program.push(deny);
  if (program.length > BPF_MAXINSNS) {
    throw new TbuildError(
      'TB_RUNTIME_SECCOMP',
      `the seccomp program has ${String(program.length)} instructions; the kernel allows ${String(BPF_MAXINSNS)}`,
    );
  }
  return program;
}

/** The program as struct sock_filter[] bytes (host endianness: little-endian on x86_64). */
export function encodeBpf(program: readonly BpfInstruction[]): Buffer {
  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((instruction, i) => {
    bytes.writeUInt16LE(instruction.code, i * 8);
    bytes.writeUInt8(instruction.jt, i * 8 + 2);
    bytes.writeUInt8(instruction.jf, i * 8 + 3);
    bytes.writeUInt32LE(instruction.k >>> 0, i * 8 + 4);
  });
  return bytes;
}
