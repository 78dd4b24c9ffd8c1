import { canonicalDigest, TbuildError } from '../../../core/index.js';
import type { LocalSource, SolverOp, Vertex } from '../../../solver/index.js';
import type { WorkerRef } from '../refs.js';
import type { OpContext } from './context.js';

/**
 * A client directory (the build context), used in place. Never cached by
 * key: the ops that read it key on the checksums of the paths they read.
 */
export function localSourceOp(
  vertex: Vertex,
  source: LocalSource,
  context: OpContext,
): SolverOp<WorkerRef> {
  return {
    cacheMap: () =>
      Promise.resolve({
        digest: canonicalDigest({
          encoding: 'tbuild.op.v1',
          kind: 'local',
          name: source.name,
          vertex: vertex.digest,
        }),
        inputs: [],
        cacheable: false,
      }),
    exec: () => {
      const dir = context.sessions.get(source.session).locals.get(source.name);
      if (dir === undefined) {
        return Promise.reject(
          new TbuildError('TB_INTERNAL', `no directory given for local source "${source.name}"`),
        );
      }
      return Promise.resolve({ kind: 'local', dir, excludePatterns: source.excludePatterns });
    },
  };
}
