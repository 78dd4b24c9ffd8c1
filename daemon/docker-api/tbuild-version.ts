import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * tbuild's version from its package.json, found by walking up from the
 * running file (source, dist/ or the CLI bundle), for `/version`. daemon/ may
 * not import cli/'s copy of this walk.
 */
export function tbuildVersion(): string {
  if (cached !== undefined) return cached;
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(directory, 'package.json');
    if (existsSync(candidate)) {
      const manifest = JSON.parse(readFileSync(candidate, 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'tbuild') return (cached = manifest.version ?? '0.0.0');
    }
    const parent = dirname(directory);
    if (parent === directory) return (cached = '0.0.0');
    directory = parent;
  }
}
