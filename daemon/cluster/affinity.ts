import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What "the same build" means for routing: the Dockerfile (its path and text)
 * and the names at the top of the context. Two commits of one repository
 * match; the node that built the last one has its steps in its local store.
 */
export async function affinityDigest(
  contextDir: string,
  dockerfile: string,
  dockerfileText?: string,
): Promise<string> {
  const text =
    dockerfileText ?? (await readFile(join(contextDir, dockerfile), 'utf8').catch(() => ''));
  const names = (await readdir(contextDir).catch(() => [])).sort();
  return createHash('sha256')
    .update(dockerfile)
    .update('\0')
    .update(text)
    .update('\0')
    .update(names.join('\0'))
    .digest('hex');
}
