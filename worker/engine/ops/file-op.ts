import { canonicalDigest, TbuildError } from '../../../core/index.js';
import type { CopyAction, FileOp, InputKeySpec, SolverOp, Vertex } from '../../../solver/index.js';
import {
  applyFileOp,
  copyUpDirectories,
  FileReuse,
  pathFilter,
  planLayerCopy,
  type CopyFilters,
} from '../../fileop/index.js';
import { SCRATCH, snapshotRef, type WorkerRef } from '../refs.js';
import { emptyDir, withReadViews, writeSnapshot } from '../views.js';
import type { OpContext } from './context.js';
import { contentKey, isLocalInput } from './input-checksums.js';
import { copyLineageKey, previousLayer, rememberLayer } from './copy-lineage.js';

/**
 * COPY, ADD, WORKDIR and heredoc files: actions applied to a writable view of
 * the base, reading copy sources from read views of the other inputs. A copy
 * from the context keys on the checksums of the paths it copies, so editing
 * an unrelated file keeps the cache and touching mtimes never breaks it.
 */
export function fileOp(vertex: Vertex, op: FileOp, context: OpContext): SolverOp<WorkerRef> {
  return {
    cacheMap: () =>
      Promise.resolve({
        // `copy: 2`: what a copy writes changed (an excluded directory's exceptions kept, the
        // directory receiving a directory's contents made 0755, --parents keeping directories),
        // so results stored by the earlier copy are not found again.
        digest: canonicalDigest({ encoding: 'tbuild.op.v1', kind: 'file', copy: 2, op }),
        inputs: vertex.inputs.map((input, index): InputKeySpec<WorkerRef> => {
          if (!isLocalInput(input)) return {};
          const paths = op.actions.flatMap((action) =>
            action.action === 'copy' && action.from === index ? [action.src] : [],
          );
          return contentKey(paths, context);
        }),
        cacheable: true,
      }),
    async exec(inputs, job) {
      const base = op.base === undefined ? SCRATCH : inputs[op.base];
      if (base?.kind !== 'snapshot')
        throw new TbuildError('TB_INTERNAL', 'a file op must be based on a snapshot');
      const empty = await emptyDir(context.store);
      const lineage = copyLineageKey(vertex);
      const previous = await previousLayer(context.store, lineage, job.signal);
      const copyFilters = (index: number | undefined, action: CopyAction): CopyFilters => {
        const input = index === undefined ? undefined : inputs[index];
        const ignore =
          input?.kind === 'local' && input.excludePatterns.length > 0
            ? pathFilter(input.excludePatterns, context.excluder(input.excludePatterns))
            : undefined;
        const own =
          action.excludePatterns.length > 0
            ? pathFilter(action.excludePatterns, context.excluder(action.excludePatterns))
            : undefined;
        return {
          ...(ignore === undefined ? {} : { excludes: ignore }),
          ...(own === undefined ? {} : { sourceExcludes: own }),
        };
      };
      const written = await withReadViews(context.store, inputs, job.signal, async (inputRoots) => {
        const baseRoot = op.base === undefined ? empty : inputRoots[op.base];
        const plan = baseRoot === undefined ? undefined : await planLayerCopy(op, baseRoot);
        const reuse =
          plan === undefined ? undefined : new FileReuse(previous?.dir, previous?.sources);
        const snapshot = await writeSnapshot(
          context.store,
          base.snapshot,
          { signal: job.signal, direct: plan !== undefined },
          async (dir) => {
            if (plan !== undefined && baseRoot !== undefined)
              copyUpDirectories(plan, baseRoot, dir);
            await applyFileOp(plan?.op ?? op, {
              destRoot: dir,
              inputRoots,
              emptyDir: empty,
              signal: job.signal,
              copyFilters,
              ...(plan === undefined ? {} : { lookupRoot: baseRoot }),
              ...(reuse === undefined ? {} : { reuse }),
              listings: (path) => context.listings.take(path),
            });
          },
        );
        return { snapshot, reuse };
      });
      const id = written.snapshot;
      const reuse = written.reuse;
      if (reuse !== undefined) {
        await rememberLayer(context.store, lineage, id, {
          vertex,
          sources: reuse.sources,
          signal: job.signal,
        });
        context.logger.debug('linked unchanged files from the previous layer', {
          vertex: vertex.digest,
          linked: reuse.linked,
        });
      }
      context.committed?.(vertex.digest, id);
      return snapshotRef(id);
    },
  };
}
