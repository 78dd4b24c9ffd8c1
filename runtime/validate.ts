import { TbuildError } from '../core/index.js';
import type { RunSpec } from './types.js';

function invalid(message: string): TbuildError {
  return new TbuildError('TB_RUNTIME_SPEC', message);
}

const isAbsolute = (path: string): boolean => path.startsWith('/');
const isCount = (value: number | undefined): boolean =>
  value === undefined || (Number.isFinite(value) && value > 0);

/** Checks what the helper relies on, so a bad spec fails with a clear message in Node. */
export function validateSpec(spec: RunSpec): void {
  if (spec.process.args.length === 0) throw invalid('a RUN step needs a command (argv is empty)');
  if (spec.rootfs.lowerDirs.length === 0)
    throw invalid('the overlay rootfs needs a lower directory');
  for (const path of [spec.rootfs.upperDir, spec.rootfs.workDir, ...spec.rootfs.lowerDirs]) {
    if (!isAbsolute(path)) throw invalid(`rootfs directories must be absolute: ${path}`);
  }
  if (spec.process.cwd !== undefined && !isAbsolute(spec.process.cwd)) {
    throw invalid(`the working directory must be absolute: ${spec.process.cwd}`);
  }
  for (const mount of spec.mounts ?? []) {
    if (!isAbsolute(mount.target)) throw invalid(`mount targets must be absolute: ${mount.target}`);
    if (mount.type === 'cache' && !['shared', 'private', 'locked'].includes(mount.sharing)) {
      throw invalid(`unknown cache sharing mode ${mount.sharing as string}`);
    }
  }
  if (spec.shmSize !== undefined && !(Number.isSafeInteger(spec.shmSize) && spec.shmSize > 0)) {
    throw invalid(`the /dev/shm size must be a positive number of bytes: ${String(spec.shmSize)}`);
  }
  const limits = spec.limits;
  if (limits !== undefined) {
    if (!isCount(limits.memoryBytes) || !isCount(limits.pids) || !isCount(limits.cpus)) {
      throw invalid('resource limits must be positive numbers');
    }
  }
}
