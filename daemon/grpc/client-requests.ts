import { createServer, type Server, type Socket } from 'node:net';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../../core/index.js';
import type { SecretReply, ServerMessage, SshData } from '../../remote/index.js';

/**
 * What a remote build asks its client for while it runs: secrets, read on the
 * client when a step mounts one and never written on this machine, and SSH
 * agent connections, each a unix socket here whose traffic crosses the stream
 * to the client's agent.
 */
export class ClientRequests {
  readonly #send: (message: ServerMessage) => void;
  readonly #secrets = new Map<
    number,
    { resolve: (data: Buffer) => void; reject: (error: TbuildError) => void }
  >();
  readonly #connections = new Map<number, Socket>();
  readonly #servers: Server[] = [];
  #nextRequest = 1;
  #nextConnection = 1;
  #closed = false;

  constructor(send: (message: ServerMessage) => void) {
    this.#send = send;
  }

  /** A reader for each secret id: asks the client each time a step mounts it. */
  secretReaders(ids: readonly string[]): Map<string, () => Promise<Uint8Array>> {
    return new Map(ids.map((id) => [id, () => this.#askSecret(id)]));
  }

  #askSecret(id: string): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(gone());
    const request = this.#nextRequest++;
    return new Promise((resolve, reject) => {
      this.#secrets.set(request, { resolve, reject });
      this.#send({ secret: { request, id } });
    });
  }

  secretReply(reply: SecretReply): void {
    const waiting = this.#secrets.get(reply.request);
    if (waiting === undefined) return;
    this.#secrets.delete(reply.request);
    if (reply.error === '') waiting.resolve(reply.data);
    else
      waiting.reject(
        new TbuildError('TB_SECRET_NOT_FOUND', `the client cannot give secret: ${reply.error}`),
      );
  }

  /** A socket under `dir` for each ssh id, forwarding to the client's agent; by id. */
  async sshSockets(ids: readonly string[], dir: string): Promise<Map<string, string>> {
    const sockets = new Map<string, string>();
    if (ids.length === 0) return sockets;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const [index, id] of ids.entries()) {
      const path = join(dir, `ssh-${String(index)}.sock`);
      const server = createServer((socket) => {
        this.#openConnection(id, socket);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, resolve);
      });
      await chmod(path, 0o600);
      this.#servers.push(server);
      sockets.set(id, path);
    }
    return sockets;
  }

  #openConnection(id: string, socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const connection = this.#nextConnection++;
    this.#connections.set(connection, socket);
    this.#send({ ssh: { connection, id, data: Buffer.alloc(0), open: true, close: false } });
    socket.on('data', (data: Buffer) => {
      this.#send({ ssh: { connection, id, data, open: false, close: false } });
    });
    socket.on('end', () => {
      this.#send({ ssh: { connection, id, data: Buffer.alloc(0), open: false, close: true } });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.#connections.delete(connection));
  }

  sshData(message: SshData): void {
    const socket = this.#connections.get(message.connection);
    if (socket === undefined) return;
    if (message.data.length > 0) socket.write(message.data);
    if (message.close) socket.end();
  }

  /** The stream is over: waiting secrets fail, agent connections and sockets close. */
  close(): void {
    this.#closed = true;
    for (const waiting of this.#secrets.values()) waiting.reject(gone());
    this.#secrets.clear();
    for (const socket of this.#connections.values()) socket.destroy();
    for (const server of this.#servers) server.close();
  }
}

function gone(): TbuildError {
  return new TbuildError('TB_SECRET_NOT_FOUND', 'the client went away before it gave the secret');
}
