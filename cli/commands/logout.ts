import { registryLogout } from '../../worker/index.js';
import { registrySettings } from '../../builder/index.js';
import { HELP_FLAG, parseFlags, type FlagSpec } from '../flags.js';
import { oneServer } from './login.js';

const LOGOUT_FLAGS: readonly FlagSpec[] = [HELP_FLAG];

const LOGOUT_HELP = `Usage: tbuild logout [SERVER]

Log out from a registry (Docker Hub when no server is given).`;

export async function runLogout(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, LOGOUT_FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(LOGOUT_HELP);
    return 0;
  }
  const registry = oneServer(flags.positionals, 'logout');
  const removed = await registryLogout(
    registry,
    registrySettings(process.env),
    AbortSignal.timeout(60_000),
  );
  console.log(
    removed ? `Removing login credentials for ${registry}` : `Not logged in to ${registry}`,
  );
  return 0;
}
