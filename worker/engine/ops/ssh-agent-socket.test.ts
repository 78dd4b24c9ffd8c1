import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError } from '../../../core/index.js';
import { serveAgentSocket } from './ssh-agent-socket.js';

let work: string;
let agent: Server;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tbuild-ssh-agent-'));
  // A stand-in agent that answers every message with the same bytes.
  agent = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => agent.listen(join(work, 'agent'), resolve));
});

afterEach(async () => {
  await new Promise<void>((resolve) =>
    agent.close(() => {
      resolve();
    }),
  );
  await rm(work, { recursive: true, force: true });
});

function roundTrip(path: string, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => socket.write(message));
    socket.once('data', (data) => {
      resolve(data.toString('utf8'));
      socket.end();
    });
    socket.once('error', reject);
  });
}

describe('serveAgentSocket', () => {
  it('forwards to the agent from a socket with the mount’s owner and mode', async () => {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const served = await serveAgentSocket(join(work, 'agent'), work, { uid, gid, mode: 0o640 });
    try {
      const stats = await stat(served.path);
      expect(stats.isSocket()).toBe(true);
      expect(stats.mode & 0o7777).toBe(0o640);
      expect([stats.uid, stats.gid]).toEqual([uid, gid]);
      expect(await roundTrip(served.path, 'list keys')).toBe('list keys');
    } finally {
      await served.close();
    }
    await expect(roundTrip(served.path, 'again')).rejects.toThrow();
  });

  it('says so when the socket path would be too long to listen on', async () => {
    const error = await serveAgentSocket(join(work, 'agent'), join(work, 'x'.repeat(120)), {
      uid: 0,
      gid: 0,
      mode: 0o600,
    }).catch((caught: unknown) => caught);
    expect(isTbuildError(error, 'TB_UNSUPPORTED')).toBe(true);
  });
});
