import { TbuildError } from './errors.js';

/**
 * A test seam for failing filesystem writes on purpose: the store's and the
 * outputs' file-writing helpers call `write(path)` before each file they write
 * (and once more in the middle of a streamed one), and the call throws the
 * system error a full or broken disk would give. Production code passes no
 * hook, so an unset seam costs one `undefined` check per file.
 */
export interface WriteFaults {
  /** Throws an errno error (code, errno, syscall, path) when this write is the one to fail. */
  write(path: string): void;
}

/** The errors a write can be made to fail with: a full disk or a broken one. */
export type InjectedErrno = 'ENOSPC' | 'EIO';

export interface FaultSpec {
  readonly errno: InjectedErrno;
  /** The 1-based count of the write that fails; only that one. */
  readonly nth: number;
}

const ERRNO_NUMBERS: Readonly<Record<InjectedErrno, number>> = { ENOSPC: -28, EIO: -5 };
const ERRNO_TEXT: Readonly<Record<InjectedErrno, string>> = {
  ENOSPC: 'no space left on device',
  EIO: 'i/o error',
};

/**
 * Parses `enospc:N` or `eio:N` (the CLI's TBUILD_FAULT_INJECT). `source`
 * names where the text came from, for the error.
 */
export function parseFaultSpec(text: string, source: string): FaultSpec {
  const match = /^(enospc|eio):([1-9]\d{0,8})$/i.exec(text.trim());
  if (match === null)
    throw new TbuildError('TB_USAGE', `invalid ${source} "${text}": expected enospc:N or eio:N`, {
      hint: 'N counts filesystem writes from 1; the Nth one fails',
    });
  return {
    errno: (match[1] ?? '').toUpperCase() as InjectedErrno,
    nth: Number(match[2]),
  };
}

/** Counts writes across everything given this hook; the `nth` throws as the disk would. */
export function faultInjector(spec: FaultSpec): WriteFaults {
  let count = 0;
  return {
    write(path: string): void {
      count += 1;
      if (count !== spec.nth) return;
      const error = new Error(
        `${spec.errno}: ${ERRNO_TEXT[spec.errno]} (injected, write ${String(count)}), write '${path}'`,
      ) as NodeJS.ErrnoException;
      error.code = spec.errno;
      error.errno = ERRNO_NUMBERS[spec.errno];
      error.syscall = 'write';
      error.path = path;
      throw error;
    },
  };
}
