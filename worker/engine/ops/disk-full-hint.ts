import { statfs } from 'node:fs/promises';

/**
 * Free space below which a failed RUN most likely failed for want of it: the
 * command's own "No space left on device" is in its output, but the error said
 * only "exit code: 1". 1 MiB: a filesystem is never that full by chance.
 */
const NEARLY_FULL_BYTES = 1024 * 1024;

/**
 * A hint for a RUN that failed, when the filesystem of its layer (its overlay upper
 * directory, in the tbuild root) has no space left now, checked before the layer is
 * dropped. Undefined when there is room, or when the filesystem cannot be asked.
 */
export async function diskFullHint(upperDir: string): Promise<string | undefined> {
  const stats = await statfs(upperDir).catch(() => undefined);
  if (stats === undefined) return undefined;
  const free = stats.bavail * stats.bsize;
  if (free >= NEARLY_FULL_BYTES) return undefined;
  return (
    `the filesystem of the tbuild root has no space left (${String(free)} bytes free at ` +
    `${upperDir}), which is likely why the command failed: free space there or run \`tbuild prune\``
  );
}
