import { join } from 'node:path';
import { TbuildError, type Digest } from '../../core/index.js';
import type { JobContext, ResultCache, SolverOp, Vertex } from '../../solver/index.js';
import type { OpContext } from './ops/context.js';
import { execOp } from './ops/exec-op.js';
import { fileOp } from './ops/file-op.js';
import { gitSourceOp } from './ops/git-source.js';
import { httpSourceOp } from './ops/http-source.js';
import { imageSourceOp } from './ops/image-source.js';
import { localSourceOp } from './ops/local-source.js';
import { mergeOp } from './ops/merge-op.js';
import { snapshotRef, type WorkerRef } from './refs.js';
import { lockCacheKey } from './key-lock.js';
import { materializeInputs } from './remote-layers.js';

/** Binds each IR op to its implementation: the solver's OpResolver. */
export function resolveOp(context: OpContext): (vertex: Vertex) => SolverOp<WorkerRef> {
  return (vertex) => {
    const op = vertex.op;
    switch (op.kind) {
      case 'source':
        switch (op.source.type) {
          case 'image':
            return imageSourceOp(vertex, op.source, context);
          case 'local':
            return localSourceOp(vertex, op.source, context);
          case 'http':
            return httpSourceOp(vertex, op.source, context);
          case 'git':
            return gitSourceOp(op.source, context);
        }
        break;
      case 'exec':
        return withLocalInputs(
          vertex,
          announced(vertex, execOp(vertex, op, context), context),
          context,
        );
      case 'file':
        return withLocalInputs(
          vertex,
          announced(vertex, fileOp(vertex, op, context), context),
          context,
        );
      case 'merge':
        return withLocalInputs(vertex, mergeOp(context), context);
    }
    return unsupported('this op');
  };
}

/** The op, telling the context when it starts to run (context.starting). */
function announced(
  vertex: Vertex,
  op: SolverOp<WorkerRef>,
  context: OpContext,
): SolverOp<WorkerRef> {
  return {
    cacheMap: (job) => op.cacheMap(job),
    exec: (inputs, job) => {
      context.starting?.(vertex.digest);
      return op.exec(inputs, job);
    },
  };
}

/** The op, its remote-cache inputs fetched first: only a step that runs reads them. */
function withLocalInputs(
  vertex: Vertex,
  op: SolverOp<WorkerRef>,
  context: OpContext,
): SolverOp<WorkerRef> {
  return {
    cacheMap: (job) => op.cacheMap(job),
    exec: async (inputs, job) =>
      op.exec(await materializeInputs(inputs, context, job, vertex.digest), job),
  };
}

function unsupported(what: string): SolverOp<WorkerRef> {
  const fail = (): Promise<never> =>
    Promise.reject(new TbuildError('TB_UNSUPPORTED', `${what} are not supported yet`));
  return { cacheMap: fail, exec: fail };
}

/**
 * Results by cache key, over the store's key index. A record whose snapshot is
 * gone or was never completely committed is a miss, so the step runs again.
 * Keys are locked across every process on the root (key-lock.ts), so concurrent
 * builds that miss one key run its step once.
 */
export function snapshotResultCache(context: OpContext): ResultCache<WorkerRef> {
  const lockDir = join(context.store.layout.locks, 'keys');
  return {
    async exclusive(key: Digest, job: JobContext) {
      const held = await lockCacheKey(lockDir, key, job.signal);
      return () => held.release();
    },
    async load(key: Digest, job: JobContext) {
      const record = await context.store.records.load(key, { signal: job.signal });
      if (record === undefined) return undefined;
      if (record.snapshot === undefined)
        return record.data?.['scratch'] === true ? snapshotRef(undefined) : undefined;
      // The whole chain must be there and committed; otherwise the step runs again.
      const chain = await context.store.snapshots.chain(record.snapshot).catch(() => undefined);
      if (chain === undefined) return undefined;
      // Layers are verified when something reads them (FsSnapshotter.ensureIntact), not
      // here: a hit whose snapshots are never read costs no tree walk. A layer found
      // changed then drops its record, and the solver solves once more (solver.ts).
      return snapshotRef(record.snapshot);
    },
    async save(key: Digest, result: WorkerRef, job: JobContext) {
      if (result.kind !== 'snapshot') return;
      await context.store.records.save(
        key,
        result.snapshot === undefined ? { data: { scratch: true } } : { snapshot: result.snapshot },
        job.signal,
      );
    },
  };
}
