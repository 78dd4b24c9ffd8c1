import { neverAborted, noopLogger } from '../../core/index.js';
import { registryLogin } from '../../worker/index.js';
import { readStdin } from '../stdin.js';
import { registrySettings } from '../../builder/index.js';
import { formatFlagHelp, HELP_FLAG, parseFlags, usage, type FlagSpec } from '../flags.js';
import { createPrompter, isInteractive, type PromptIO } from '../prompt.js';

export const LOGIN_FLAGS: readonly FlagSpec[] = [
  { name: 'username', short: 'u', type: 'string', value: 'USER', description: 'Username' },
  { name: 'password', short: 'p', type: 'string', value: 'PASS', description: 'Password' },
  { name: 'password-stdin', type: 'boolean', description: 'Take the password from stdin' },
  HELP_FLAG,
];

const LOGIN_HELP = `Usage: tbuild login [OPTIONS] [SERVER]

Log in to a registry (Docker Hub when no server is given), storing the credentials
in docker's config.json as docker login does. A user name or password not given by
flags is asked for when stdin is a terminal (the password without echo).

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

export interface GivenCredentials {
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly passwordStdin: boolean;
}

/**
 * The user name and password, as `docker login` gets them: from the flags, the password
 * from stdin with --password-stdin, and whatever is still missing asked for on a
 * terminal (the password without echo). Without a terminal a missing value is a usage
 * error naming its flag.
 */
export async function loginCredentials(
  given: GivenCredentials,
  io: PromptIO,
  options: {
    readonly readStdin: () => Promise<string>;
    readonly warn: (line: string) => void;
    readonly signal: AbortSignal;
  },
): Promise<{ readonly username: string; readonly password: string }> {
  let { username, password } = given;
  if (given.passwordStdin) {
    if (password !== undefined)
      throw usage('--password and --password-stdin are mutually exclusive');
    if (username === undefined || username.trim() === '')
      throw usage('--password-stdin needs a username: pass -u/--username');
    password = (await options.readStdin()).replace(/\n$/, '').replace(/\r$/, '');
  } else if (password !== undefined) {
    options.warn('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
  }
  username = username?.trim();
  if (username !== undefined && username !== '' && password !== undefined && password !== '')
    return { username, password };
  if (given.passwordStdin) throw usage('--password-stdin read an empty password');
  if (!isInteractive(io)) {
    throw usage(
      username === undefined || username === ''
        ? '"tbuild login" needs a username: pass -u/--username (stdin is not a terminal to ask on)'
        : '"tbuild login" needs a password: pass --password-stdin or -p/--password (stdin is not a terminal to ask on)',
    );
  }
  const prompter = createPrompter(io, options.signal);
  try {
    if (username === undefined || username === '')
      username = (await prompter.ask('Username: ', { echo: true })).trim();
    if (username === '') throw usage('a username is required');
    if (password === undefined || password === '')
      password = await prompter.ask('Password: ', { echo: false });
    if (password === '') throw usage('a password is required');
    return { username, password };
  } finally {
    prompter.close();
  }
}

export async function runLogin(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, LOGIN_FLAGS);
  if (flags.booleans.get('help') === true) {
    console.log(LOGIN_HELP);
    return 0;
  }
  const registry = oneServer(flags.positionals, 'login');
  // A person may take their time to type: only the registry check is timed.
  const { username, password } = await loginCredentials(
    {
      username: flags.strings.get('username'),
      password: flags.strings.get('password'),
      passwordStdin: flags.booleans.get('password-stdin') === true,
    },
    { input: process.stdin, output: process.stderr },
    {
      readStdin,
      warn: (line) => {
        console.error(line);
      },
      signal: neverAborted,
    },
  );
  const signal = AbortSignal.timeout(120_000);
  const settings = registrySettings(process.env);
  const { storedIn } = await registryLogin(registry, username, password, settings, {
    signal,
    logger: noopLogger,
  });
  if (!storedIn.startsWith('docker-credential-'))
    console.error(`WARNING! Your password will be stored unencrypted in ${storedIn}.`);
  console.log('Login Succeeded');
  return 0;
}
