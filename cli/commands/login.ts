import { noopLogger } from '../../core/index.js';
import { registryLogin } from '../../worker/index.js';
import { readStdin } from '../builder/inputs.js';
import { registrySettings } from '../builder/registry-settings.js';
import { formatFlagHelp, parseFlags, usage, type FlagSpec } from '../flags.js';

export const LOGIN_FLAGS: readonly FlagSpec[] = [
  { name: 'username', short: 'u', type: 'string', value: 'USER', description: 'Username' },
  { name: 'password', short: 'p', type: 'string', value: 'PASS', description: 'Password' },
  { name: 'password-stdin', type: 'boolean', description: 'Take the password from stdin' },
  { name: 'help', short: 'h', type: 'boolean', description: 'Print usage' },
];

const LOGIN_HELP = `Usage: tbuild login [OPTIONS] [SERVER]

Log in to a registry (Docker Hub when no server is given), storing the credentials
in docker's config.json as docker login does.

Options:
${formatFlagHelp(LOGIN_FLAGS)}`;

/** `https://index.docker.io/v1/`, `http://host:5000/`, `host:5000` → the registry as in references. */
export function registryHost(server: string | undefined): string {
  if (server === undefined || server === '') return 'docker.io';
  const host = server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (host === '') throw usage(`invalid registry "${server}"`);
  return ['index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'].includes(host)
    ? 'docker.io'
    : host;
}

export function oneServer(positionals: readonly string[], command: string): string {
  if (positionals.length > 1)
    throw usage(`"tbuild ${command}" takes at most 1 argument: the registry`);
  return registryHost(positionals[0]);
}

export async function runLogin(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, LOGIN_FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(LOGIN_HELP);
    return 0;
  }
  const registry = oneServer(flags.positionals, 'login');
  const username = flags.strings.get('username');
  let password = flags.strings.get('password');
  const fromStdin = flags.booleans.get('password-stdin') === true;
  if (fromStdin && password !== undefined)
    throw usage('--password and --password-stdin are mutually exclusive');
  if (username === undefined || username === '')
    throw usage('"tbuild login" needs a username (-u USER)');
  if (fromStdin) {
    password = (await readStdin()).replace(/\r?\n$/, '');
  } else if (password !== undefined) {
    console.error('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
  }
  if (password === undefined || password === '')
    throw usage('"tbuild login" needs a password (-p PASS or --password-stdin)');
  const settings = registrySettings(process.env);
  const { storedIn } = await registryLogin(registry, username, password, settings, {
    signal: AbortSignal.timeout(120_000),
    logger: noopLogger,
  });
  if (!storedIn.startsWith('docker-credential-'))
    console.error(`WARNING! Your password will be stored unencrypted in ${storedIn}.`);
  console.log('Login Succeeded');
  return 0;
}
