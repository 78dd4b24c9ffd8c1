import { isTbuildError, TbuildError, type Digest } from '../../core/index.js';
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
        return execOp(vertex, op, context);
      case 'file':
        return fileOp(vertex, op, context);
      case 'merge':
        return mergeOp(context);
    }
    return unsupported('this op');
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
 */
export function snapshotResultCache(context: OpContext): ResultCache<WorkerRef> {
  // Layers checked against their commit records by this engine (one tree walk each).
  const verified = new Set<string>();
  return {
    async load(key: Digest, job: JobContext) {
      const record = await context.store.records.load(key, { signal: job.signal });
      if (record === undefined) return undefined;
      if (record.snapshot === undefined)
        return record.data?.['scratch'] === true ? snapshotRef(undefined) : undefined;
      // The whole chain must be there and committed; otherwise the step runs again.
      const chain = await context.store.snapshots.chain(record.snapshot).catch(() => undefined);
      if (chain === undefined) return undefined;
      // A layer changed on disk since its commit (a file deleted or rewritten) is never reused:
      // verify drops its record, so it and every chain through it run again.
      for (const layer of chain) {
        if (verified.has(layer.id)) continue;
        try {
          await context.store.snapshots.verify(layer.id, { signal: job.signal });
        } catch (error) {
          if (isTbuildError(error) && error.code === 'TB_SNAPSHOT_CORRUPT') return undefined;
          throw error;
        }
        verified.add(layer.id);
      }
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
