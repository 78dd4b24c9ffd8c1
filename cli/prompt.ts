import { StringDecoder } from 'node:string_decoder';
import type { Readable, Writable } from 'node:stream';
import { TbuildError } from '../core/index.js';

/** A terminal to ask on: stdin and stderr, or streams a test injects. */
export interface PromptIO {
  readonly input: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly output: Writable;
}

export interface Prompter {
  /** Writes `question`, reads one line. Without echo the terminal is put in raw mode first. */
  ask(question: string, options: { readonly echo: boolean }): Promise<string>;
  /** Stops reading the input, so the process can exit. */
  close(): void;
}

/** Whether `io` is a terminal a person can answer on (docker asks only then). */
export function isInteractive(io: PromptIO): boolean {
  return io.input.isTTY === true;
}

/**
 * Line prompts like docker's `Username: ` and `Password: `. Written here rather than
 * taken from npm (`read`) because it is a few lines and must keep what was typed ahead
 * (a pasted "user⏎password⏎") between questions. A hidden answer is read in raw mode,
 * set before the question is shown so no typed byte is ever echoed; Backspace edits,
 * Ctrl-C cancels, Ctrl-D on an empty line is end of input.
 */
export function createPrompter(io: PromptIO, signal: AbortSignal): Prompter {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let ended = false;
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer | string): void => {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    wake?.();
  };
  const onEnd = (): void => {
    ended = true;
    wake?.();
  };
  io.input.on('data', onData);
  io.input.on('end', onEnd);
  const next = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(canceled());
        return;
      }
      const onAbort = (): void => {
        reject(canceled());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      wake = () => {
        wake = undefined;
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      io.input.resume();
    });

  return {
    async ask(question, { echo }) {
      const raw = !echo && io.input.isTTY === true && io.input.setRawMode !== undefined;
      if (raw) io.input.setRawMode?.(true);
      io.output.write(question);
      let answer = '';
      try {
        for (;;) {
          while (pending.length > 0) {
            const char = pending[0] ?? '';
            pending = pending.slice(1);
            if (char === '\r' || char === '\n') {
              // A CRLF from a pipe is one line end.
              if (char === '\r' && pending.startsWith('\n')) pending = pending.slice(1);
              return answer;
            }
            if (char === '\u0003') throw canceled();
            if (char === '\u0004' && answer === '') throw endOfInput(question);
            if (char === '\u007f' || char === '\b') answer = answer.slice(0, -1);
            else if (char >= ' ') answer += char;
          }
          if (ended) {
            if (answer === '') throw endOfInput(question);
            return answer;
          }
          await next();
        }
      } finally {
        io.input.pause();
        if (raw) {
          io.input.setRawMode?.(false);
          // The Enter a person typed was not echoed either: end the prompt's line.
          io.output.write('\n');
        }
      }
    },
    close() {
      io.input.off('data', onData);
      io.input.off('end', onEnd);
      io.input.pause();
    },
  };
}

function canceled(): TbuildError {
  return new TbuildError('TB_CANCELED', 'canceled by the user');
}

function endOfInput(question: string): TbuildError {
  return new TbuildError('TB_USAGE', `no answer to "${question.trim()}": the input ended`);
}
