import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isTbuildError, neverAborted } from '../core/index.js';
import { loginCredentials } from './commands/login.js';
import { createPrompter, type PromptIO } from './prompt.js';

/** A fake terminal: what is typed goes in, what is shown comes out; raw mode is recorded. */
function terminal(tty: boolean): {
  io: PromptIO;
  type: (text: string) => void;
  end: () => void;
  shown: () => string;
  rawModes: boolean[];
} {
  const input = new PassThrough() as PassThrough & {
    isTTY?: boolean;
    setRawMode?: (raw: boolean) => unknown;
  };
  const output = new PassThrough();
  const rawModes: boolean[] = [];
  let shown = '';
  output.on('data', (chunk: Buffer) => (shown += chunk.toString('utf8')));
  if (tty) {
    input.isTTY = true;
    input.setRawMode = (raw) => rawModes.push(raw);
  }
  return {
    io: { input, output },
    type: (text) => input.write(text),
    end: () => input.end(),
    shown: () => shown,
    rawModes,
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('createPrompter', () => {
  it('asks with echo in cooked mode, hides a password in raw mode set before the question', async () => {
    const term = terminal(true);
    const prompter = createPrompter(term.io, neverAborted);
    const user = prompter.ask('Username: ', { echo: true });
    await tick();
    expect(term.shown()).toBe('Username: ');
    expect(term.rawModes).toEqual([]);
    term.type('tester\n');
    expect(await user).toBe('tester');
    const password = prompter.ask('Password: ', { echo: false });
    await tick();
    expect(term.rawModes).toEqual([true]);
    // Raw mode sends CR for Enter and DEL for Backspace.
    term.type('s3cretX\u007f!\r');
    expect(await password).toBe('s3cret!');
    prompter.close();
    expect(term.rawModes).toEqual([true, false]);
    expect(term.shown()).toBe('Username: Password: \n');
  });

  it('keeps what was typed ahead for the next question', async () => {
    const term = terminal(true);
    const prompter = createPrompter(term.io, neverAborted);
    term.type('tester\r\npa55\r\n');
    expect(await prompter.ask('Username: ', { echo: true })).toBe('tester');
    expect(await prompter.ask('Password: ', { echo: false })).toBe('pa55');
    prompter.close();
  });

  it('cancels on Ctrl-C and restores the terminal', async () => {
    const term = terminal(true);
    const prompter = createPrompter(term.io, neverAborted);
    const password = prompter.ask('Password: ', { echo: false });
    term.type('abc\u0003');
    const error: unknown = await password.catch((e: unknown) => e);
    expect(isTbuildError(error, 'TB_CANCELED')).toBe(true);
    expect(term.rawModes).toEqual([true, false]);
    prompter.close();
  });

  it('fails clearly when the input ends before an answer', async () => {
    const term = terminal(true);
    const prompter = createPrompter(term.io, neverAborted);
    const user = prompter.ask('Username: ', { echo: true });
    term.end();
    const error: unknown = await user.catch((e: unknown) => e);
    expect(isTbuildError(error, 'TB_USAGE')).toBe(true);
    prompter.close();
  });
});

describe('loginCredentials', () => {
  const noStdin = (): Promise<string> => Promise.reject(new Error('stdin must not be read'));

  async function failure(promise: Promise<unknown>): Promise<string> {
    const error: unknown = await promise.catch((e: unknown) => e);
    expect(isTbuildError(error, 'TB_USAGE'), String(error)).toBe(true);
    return isTbuildError(error) ? error.message : '';
  }

  it('without a terminal, names the missing flag', async () => {
    const warnings: string[] = [];
    const options = {
      readStdin: noStdin,
      warn: (l: string) => warnings.push(l),
      signal: neverAborted,
    };
    const pipe = terminal(false).io;
    expect(
      await failure(
        loginCredentials(
          { username: undefined, password: 'x', passwordStdin: false },
          pipe,
          options,
        ),
      ),
    ).toMatch(/-u\/--username/);
    expect(
      await failure(
        loginCredentials(
          { username: 'me', password: undefined, passwordStdin: false },
          pipe,
          options,
        ),
      ),
    ).toMatch(/--password-stdin or -p\/--password/);
    expect(
      await failure(
        loginCredentials(
          { username: undefined, password: undefined, passwordStdin: true },
          pipe,
          options,
        ),
      ),
    ).toMatch(/--password-stdin needs a username/);
    expect(
      await loginCredentials(
        { username: ' me ', password: 'pw', passwordStdin: false },
        pipe,
        options,
      ),
    ).toEqual({ username: 'me', password: 'pw' });
    expect(warnings).toEqual([
      'WARNING! Using --password via the CLI is insecure. Use --password-stdin.',
      'WARNING! Using --password via the CLI is insecure. Use --password-stdin.',
    ]);
  });

  it('reads --password-stdin without its line end and without a warning', async () => {
    const warnings: string[] = [];
    const got = await loginCredentials(
      { username: 'me', password: undefined, passwordStdin: true },
      terminal(false).io,
      {
        readStdin: () => Promise.resolve('pa ss\r\n'),
        warn: (l) => warnings.push(l),
        signal: neverAborted,
      },
    );
    expect(got).toEqual({ username: 'me', password: 'pa ss' });
    expect(warnings).toEqual([]);
  });

  it('asks a terminal for what the flags left out', async () => {
    const term = terminal(true);
    const pending = loginCredentials(
      { username: undefined, password: undefined, passwordStdin: false },
      term.io,
      { readStdin: noStdin, warn: () => undefined, signal: neverAborted },
    );
    term.type('tester\n');
    await tick();
    term.type('pw\r');
    expect(await pending).toEqual({ username: 'tester', password: 'pw' });
    expect(term.shown()).toBe('Username: Password: \n');
    expect(term.rawModes).toEqual([true, false]);
  });
});
