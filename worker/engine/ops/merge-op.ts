import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { canonicalDigest, TbuildError } from '../../../core/index.js';
import type { SolverOp } from '../../../solver/index.js';
import { snapshotRef, type WorkerRef } from '../refs.js';
import { writeSnapshot } from '../views.js';
import type { OpContext } from './context.js';

const run = promisify(execFile);

/**
 * COPY --link: later inputs layered on the first. Each layer of a later input
 * (built on scratch, so independent of what is below) is rebased by a
 * hard-link copy of its directory onto the chain, as BuildKit's merge
 * snapshotter does: no file bytes are copied, and the exported layer is the
 * same as the input's.
 */
export function mergeOp(context: OpContext): SolverOp<WorkerRef> {
  return {
    cacheMap: () =>
      Promise.resolve({
        digest: canonicalDigest({ encoding: 'tbuild.op.v1', kind: 'merge' }),
        inputs: [],
        cacheable: true,
      }),
    async exec(inputs, job) {
      const [base, ...layers] = inputs;
      if (base?.kind !== 'snapshot')
        throw new TbuildError('TB_INTERNAL', 'merge inputs must be snapshots');
      let top = base.snapshot;
      for (const input of layers) {
        if (input.kind !== 'snapshot')
          throw new TbuildError('TB_INTERNAL', 'merge inputs must be snapshots');
        if (input.snapshot === undefined) continue;
        await context.store.snapshots.ensureIntact(input.snapshot, { signal: job.signal });
        const chain = (await context.store.snapshots.chain(input.snapshot)).reverse();
        for (const layer of chain) {
          const source = context.store.snapshots.path(layer.id);
          top = await writeSnapshot(
            context.store,
            top,
            { signal: job.signal, labels: layer.labels, direct: true },
            async (dir) => {
              await run('cp', ['-al', '--', `${source}/.`, `${dir}/`], { signal: job.signal });
            },
          );
        }
      }
      return snapshotRef(top);
    },
  };
}
