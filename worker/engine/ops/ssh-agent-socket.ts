import { chmod, chown } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { TbuildError } from '../../../core/index.js';

/** A socket a step uses to reach an ssh agent, and how to stop serving it. */
export interface AgentSocket {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * A socket of the step's own in `dir`, owned and moded as
 * `RUN --mount=type=ssh,uid=…,gid=…,mode=…` asks (default root's, 0600), that
 * forwards every connection to the agent. BuildKit serves the agent the same
 * way (session/sshforward: a socket made with those, not the client's own),
 * so the step sees the same owner and mode whatever the host's socket has.
 */
export async function serveAgentSocket(
  agent: string,
  dir: string,
  access: { readonly uid: number; readonly gid: number; readonly mode: number },
): Promise<AgentSocket> {
  const path = join(dir, 'agent.sock');
  // sockaddr_un holds 108 bytes with the final NUL; a longer path cannot be listened on.
  if (Buffer.byteLength(path) > 107) {
    throw new TbuildError(
      'TB_UNSUPPORTED',
      `cannot serve the ssh agent to the step: the socket path ${path} is longer than 107 bytes`,
      { hint: 'use a shorter --root (TBUILD_ROOT)' },
    );
  }
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(agent);
    for (const socket of [client, upstream]) {
      open.add(socket);
      // Either side failing or ending ends the pair: an agent error is the step's to see.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on('close', () => {
        open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => {
      reject(
        new TbuildError('TB_INTERNAL', `cannot serve the ssh agent at ${path}`, { cause: error }),
      );
    });
    server.listen(path, resolve);
  });
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const socket of open) socket.destroy();
      server.close(() => {
        resolve();
      });
    });
  try {
    // chown before chmod, as for files: the mode is the mount's whatever chown clears.
    await chown(path, access.uid, access.gid);
    await chmod(path, access.mode);
  } catch (error) {
    await close();
    throw error;
  }
  return { path, close };
}
