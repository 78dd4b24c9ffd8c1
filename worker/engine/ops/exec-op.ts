import { Writable } from 'node:stream';
import { canonicalDigest, TbuildError, type ProgressSink } from '../../../core/index.js';
import type { SandboxMount } from '../../../runtime/index.js';
import type { ExecOp, InputKeySpec, Mount, SolverOp, Vertex } from '../../../solver/index.js';
import { snapshotRef, SCRATCH, type WorkerRef } from '../refs.js';
import { pathFilter, resolveInRoot } from '../../fileop/index.js';
import { ThrowawayViews } from '../throwaway-views.js';
import { withReadViews } from '../views.js';
import type { OpContext } from './context.js';
import { contentKey, isLocalInput } from './input-checksums.js';
import { cacheMountDirectory, type CacheSeed } from './cache-mount.js';
import { contextBindSource } from './context-bind.js';
import { serveAgentSocket } from './ssh-agent-socket.js';
import { lendSlotWhileIdle } from './slot-lender.js';
import { diskFullHint } from './disk-full-hint.js';

/**
 * RUN: the command in a sandbox over a new snapshot of the root mount's
 * input, with the other mounts (binds of other inputs, cache dirs, tmpfs,
 * secrets, ssh agents) attached. A non-zero exit fails the step and commits
 * nothing. Secret values never enter the op, its key or the layer. While the
 * command idles (sleeps, waits on I/O) its parallelism slot is lent to other
 * steps (slot-lender.ts).
 */
export function execOp(vertex: Vertex, op: ExecOp, context: OpContext): SolverOp<WorkerRef> {
  const rootMount = op.mounts.find(
    (mount) => mount.type === 'bind' && mount.target === '/' && mount.output,
  );
  return {
    cacheMap: () =>
      Promise.resolve({
        // Proxy settings (BuildKit's ProxyEnv) and the session serving secrets reach the
        // step but never its key.
        digest: canonicalDigest({
          encoding: 'tbuild.op.v1',
          kind: 'exec',
          op: { ...op, proxyEnv: undefined, session: undefined },
        }),
        inputs: vertex.inputs.map((input, index): InputKeySpec<WorkerRef> => {
          if (!isLocalInput(input)) return {};
          const selectors = op.mounts.flatMap((mount) =>
            mount.type === 'bind' && mount.input === index ? [mount.selector] : [],
          );
          return contentKey(selectors, context);
        }),
        cacheable: true,
      }),
    async exec(inputs, job) {
      if (op.security === 'insecure') {
        throw new TbuildError(
          'TB_UNSUPPORTED',
          'RUN --security=insecure is not supported yet: every step runs in the sandbox',
          { hint: 'remove --security=insecure, or build this step with BuildKit' },
        );
      }
      const root =
        rootMount?.type === 'bind' && rootMount.input !== undefined
          ? inputs[rootMount.input]
          : SCRATCH;
      if (root?.kind !== 'snapshot')
        throw new TbuildError('TB_INTERNAL', 'the root of a RUN must be a snapshot');
      if (root.snapshot !== undefined)
        await context.store.snapshots.ensureIntact(root.snapshot, { signal: job.signal });
      const active = await context.store.snapshots.prepare({
        ...(root.snapshot === undefined ? {} : { parent: root.snapshot }),
        signal: job.signal,
      });
      try {
        const others = op.mounts.filter((mount) => mount !== rootMount);
        // Bind mounts read their input; a cache mount with `from` is seeded from its own.
        const boundInputs = others.flatMap((mount) =>
          (mount.type === 'bind' || mount.type === 'cache') && mount.input !== undefined
            ? [mount.input]
            : [],
        );
        const result = await withReadViews(
          context.store,
          boundInputs.map((index) => inputs[index] ?? SCRATCH),
          job.signal,
          async (views) => {
            const viewOf = new Map(
              boundInputs.map((index, position) => [index, views[position] ?? '']),
            );
            const throwaway = new ThrowawayViews(context.store);
            let stopLending: (() => Promise<void>) | undefined;
            try {
              const { mounts, env } = await sandboxMounts(
                others,
                viewOf,
                context,
                throwaway,
                op.session,
                { inputs, signal: job.signal },
              );
              return await context.executor.run(
                {
                  rootfs: {
                    lowerDirs: active.lowerdirs,
                    upperDir: active.upperdir,
                    workDir: active.workdir,
                  },
                  mounts,
                  process: {
                    args: op.args,
                    env: [...op.env, ...(op.proxyEnv ?? []), ...env],
                    cwd: op.cwd,
                    user: op.user,
                  },
                  network: op.network,
                  extraHosts: op.extraHosts.map(parseExtraHost),
                  ...(op.shmSize === undefined ? {} : { shmSize: op.shmSize }),
                  ...(op.ulimits === undefined ? {} : { ulimits: op.ulimits }),
                },
                {
                  signal: job.signal,
                  stdout: logStream(job.progress, vertex, 'stdout'),
                  stderr: logStream(job.progress, vertex, 'stderr'),
                  onStart: (step) => {
                    const slot = {
                      lend: () => {
                        job.slot.lend();
                        context.idle?.();
                      },
                      reclaim: (signal: AbortSignal) => job.slot.reclaim(signal),
                    };
                    stopLending = lendSlotWhileIdle(slot, step, job.signal, job.logger);
                  },
                },
              );
            } finally {
              try {
                // Holds the slot again (waiting for one if it was lent) before the commit.
                await stopLending?.();
              } finally {
                await throwaway.release();
              }
            }
          },
        );
        if (result.exitCode !== 0) {
          const why = result.oomKilled
            ? 'killed: out of memory'
            : `exit code: ${String(result.exitCode)}`;
          const hint = result.oomKilled ? undefined : await diskFullHint(active.upperdir);
          throw new TbuildError(
            'TB_RUN_FAILED',
            `process "${op.args.join(' ')}" did not complete successfully: ${why}`,
            {
              ...(hint === undefined ? {} : { hint }),
              details: {
                exitCode: result.exitCode,
                oomKilled: result.oomKilled,
                vertex: vertex.digest,
              },
            },
          );
        }
        const committed = await context.store.snapshots.commit(active.id, { signal: job.signal });
        context.committed?.(vertex.digest, committed.id);
        return snapshotRef(committed.id);
      } catch (error) {
        await context.store.snapshots.abort(active.id).catch(() => undefined);
        throw error;
      }
    },
  };
}

async function sandboxMounts(
  mounts: readonly Mount[],
  viewOf: ReadonlyMap<number, string>,
  context: OpContext,
  throwaway: ThrowawayViews,
  sessionId: string | undefined,
  { inputs, signal }: { inputs: readonly (WorkerRef | undefined)[]; signal: AbortSignal },
): Promise<{ mounts: SandboxMount[]; env: string[] }> {
  const session = context.sessions.get(sessionId);
  const result: SandboxMount[] = [];
  const env: string[] = [];
  for (const mount of mounts) {
    switch (mount.type) {
      case 'bind': {
        const view = mount.input === undefined ? undefined : viewOf.get(mount.input);
        if (view === undefined)
          throw new TbuildError('TB_INTERNAL', `bind mount ${mount.target} has no input`);
        // Symlinks resolve inside the view, as BuildKit's: a context symlink to /etc binds
        // the context's own path, never the host's. A read view is never written: `rw`
        // gets a throwaway layer over it.
        const input = mount.input === undefined ? undefined : inputs[mount.input];
        // The context less what .dockerignore leaves out, as BuildKit's client sends it.
        const kept =
          input?.kind === 'local' && input.excludePatterns.length > 0
            ? await contextBindSource(
                view,
                mount.selector,
                pathFilter(input.excludePatterns, context.excluder(input.excludePatterns)),
                () => throwaway.scratch(),
                signal,
              )
            : undefined;
        const source = kept?.path ?? (await resolveInRoot(view, mount.selector, true));
        result.push({
          type: 'bind',
          // A filtered copy is thrown away after the run: it may be written directly.
          source:
            mount.readonly || kept?.copied === true ? source : await throwaway.writable(source),
          target: mount.target,
          readonly: mount.readonly,
        });
        break;
      }
      case 'cache': {
        const source = await cacheMountDirectory(
          mount,
          mount.input === undefined ? undefined : cacheSeed(mount.input, viewOf, inputs),
          context.cacheMountDir,
          signal,
        );
        // An empty mount without `from` starts with what an imported cache carried for its id.
        if (mount.input === undefined) await session.fillCacheMount?.(mount.id, source, signal);
        result.push({
          type: 'cache',
          source,
          target: mount.target,
          sharing: mount.sharing,
          readonly: mount.readonly,
        });
        break;
      }
      case 'tmpfs':
        result.push({
          type: 'tmpfs',
          target: mount.target,
          ...(mount.size > 0 ? { sizeBytes: mount.size } : {}),
        });
        break;
      case 'secret': {
        const read = session.secrets.get(mount.id);
        if (read === undefined) {
          if (mount.required) {
            throw new TbuildError('TB_SECRET_NOT_FOUND', `secret ${mount.id} not found`, {
              hint: `pass it with --secret id=${mount.id},src=PATH (or env=VAR)`,
            });
          }
          break;
        }
        const data = await read();
        if (mount.env !== undefined) env.push(`${mount.env}=${Buffer.from(data).toString('utf8')}`);
        if (mount.target !== undefined) {
          result.push({
            type: 'secret',
            target: mount.target,
            data,
            uid: mount.uid,
            gid: mount.gid,
            mode: mount.mode,
          });
        }
        break;
      }
      case 'ssh': {
        const socket = session.sshSockets.get(mount.id);
        if (socket === undefined) {
          if (mount.required) {
            throw new TbuildError(
              'TB_SECRET_NOT_FOUND',
              `no SSH agent or keys given for ssh id ${mount.id}`,
              {
                hint: `pass one with --ssh ${mount.id}[=SOCKET]`,
              },
            );
          }
          break;
        }
        // The step's own socket, with the mount's owner and mode, as BuildKit serves it.
        const served = await serveAgentSocket(socket, await throwaway.scratch(), mount);
        throwaway.onRelease(() => served.close());
        result.push({ type: 'ssh', socketPath: served.path, target: mount.target });
        if (!env.some((entry) => entry.startsWith('SSH_AUTH_SOCK=')))
          env.push(`SSH_AUTH_SOCK=${mount.target}`);
        break;
      }
    }
  }
  return { mounts: result, env };
}

/** The read view and snapshot a cache mount's `from` input gives it to start from. */
function cacheSeed(
  input: number,
  viewOf: ReadonlyMap<number, string>,
  inputs: readonly (WorkerRef | undefined)[],
): CacheSeed {
  const view = viewOf.get(input);
  const ref = inputs[input];
  if (view === undefined || ref?.kind !== 'snapshot')
    throw new TbuildError('TB_INTERNAL', `cache mount input ${String(input)} has no snapshot view`);
  return { view, snapshot: ref.snapshot };
}

function parseExtraHost(entry: string): { host: string; ip: string } {
  const separator = entry.indexOf(':');
  return { host: entry.slice(0, separator), ip: entry.slice(separator + 1) };
}

/** A stream whose writes become the vertex's log events. */
function logStream(progress: ProgressSink, vertex: Vertex, stream: 'stdout' | 'stderr'): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      progress({
        type: 'vertex.log',
        vertex: vertex.digest,
        stream,
        data: new Uint8Array(chunk),
        at: Date.now(),
      });
      callback();
    },
  });
}
