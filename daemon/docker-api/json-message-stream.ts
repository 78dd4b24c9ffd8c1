import type { FastifyReply } from 'fastify';
import { dockerHeaders } from './docker-headers.js';

/** One message of Docker's JSON stream (`jsonmessage.JSONMessage`): the fields tbuild sends. */
export interface JsonMessage {
  readonly stream?: string;
  readonly status?: string;
  readonly id?: string;
  readonly progress?: string;
  readonly progressDetail?: { readonly current?: number; readonly total?: number };
  readonly aux?: Readonly<Record<string, unknown>>;
  readonly errorDetail?: { readonly message: string };
  readonly error?: string;
}

/**
 * The answer of `/build` and `/images/{name}/push`: status 200 at once, then
 * one JSON object per line (`\r\n`, as Docker's streamformatter writes) as
 * things happen; a failure after the start is an `errorDetail` message, since
 * the status is already sent. `hungUp` fires when the client closes the
 * connection before the stream ended (Docker cancels the work then).
 */
export class JsonMessageStream {
  readonly #reply: FastifyReply;
  #ended = false;

  constructor(reply: FastifyReply, hungUp: () => void) {
    this.#reply = reply;
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, { ...dockerHeaders(), 'content-type': 'application/json' });
    // Headers now, so a client sees the build start before the first message.
    out.flushHeaders();
    out.on('close', () => {
      if (!this.#ended) hungUp();
    });
    // A client gone before the stream began (while its build was queued) will send no close.
    if (reply.request.raw.socket.destroyed) queueMicrotask(hungUp);
  }

  /** True once the client has gone: writing on is pointless. */
  get closed(): boolean {
    return this.#reply.raw.destroyed;
  }

  write(message: JsonMessage): void {
    if (this.#ended || this.closed) return;
    this.#reply.raw.write(`${JSON.stringify(message)}\r\n`);
  }

  stream(text: string): void {
    if (text !== '') this.write({ stream: text });
  }

  fail(message: string): void {
    this.write({ errorDetail: { message }, error: message });
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#reply.raw.end();
  }
}
