import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** tbuild's own package.json, found by walking up from this file (works from source and dist/). */
export function readPackageInfo(): { readonly name: string; readonly version: string } {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(directory, 'package.json');
    if (existsSync(candidate)) {
      const manifest = JSON.parse(readFileSync(candidate, 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'tbuild')
        return { name: manifest.name, version: manifest.version ?? '0.0.0' };
    }
    const parent = dirname(directory);
    if (parent === directory) return { name: 'tbuild', version: '0.0.0' };
    directory = parent;
  }
}
