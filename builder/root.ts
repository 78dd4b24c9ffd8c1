import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The tbuild root: `--root`, else `TBUILD_ROOT`, else `/var/lib/tbuild` as
 * root and `$XDG_DATA_HOME/tbuild` (or `~/.local/share/tbuild`) otherwise.
 */
export function resolveRoot(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (flag !== undefined && flag !== '') return resolve(flag);
  const fromEnv = env['TBUILD_ROOT'];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  if (process.getuid?.() === 0) return '/var/lib/tbuild';
  const data = env['XDG_DATA_HOME'];
  return join(
    data !== undefined && data !== '' ? data : join(homedir(), '.local', 'share'),
    'tbuild',
  );
}
