/** A seccomp policy in tbuild's own shape; {@link compileSeccomp} turns it into classic BPF. */

export type SeccompAction =
  { readonly kind: 'allow' } | { readonly kind: 'errno'; readonly errno: number };

/**
 * One condition on a syscall argument (all 64 bits compared).
 * `masked-eq` passes when `(arg & mask) === value`, like libseccomp's SCMP_CMP_MASKED_EQ.
 */
export interface SeccompArgCheck {
  readonly index: 0 | 1 | 2 | 3 | 4 | 5;
  readonly op: 'eq' | 'ne' | 'masked-eq';
  readonly value: bigint;
  readonly mask?: bigint;
}

/**
 * A rule: its action applies to the named syscalls when every arg check passes.
 * Several rules for one syscall are alternatives (the first that matches wins), as
 * in Docker's profile format; names unknown on the architecture are ignored.
 */
export interface SeccompRule {
  readonly names: readonly string[];
  readonly action: SeccompAction;
  readonly args?: readonly SeccompArgCheck[];
}

export interface SeccompProfile {
  /** errno for syscalls no rule allows (Docker: EPERM). */
  readonly defaultErrno: number;
  readonly rules: readonly SeccompRule[];
}
