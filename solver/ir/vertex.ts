import { canonicalDigest, TbuildError, type Digest } from '../../core/index.js';
import type { Op } from './ops.js';

/** Bumped whenever the encoding of an op changes meaning, so old digests never collide. */
export const VERTEX_ENCODING = 'tbuild.vertex.v1';

/** Where a vertex came from, for progress and errors. Not part of the digest. */
export interface VertexMeta {
  /** Display name, e.g. `[build 2/5] RUN make`. */
  readonly name: string;
  readonly source?: { readonly file: string; readonly startLine: number; readonly endLine: number };
  /** Re-run even when a cached result exists (`--no-cache`). */
  readonly ignoreCache?: boolean;
  /** Which step of a Dockerfile this is, to tell why its key changed since an earlier build. */
  readonly step?: StepMeta;
}

/**
 * A Dockerfile step as the frontend saw it, kept with its result so that a
 * later miss of the same step can say what changed (solver/explain/). Outside
 * the digest and the key: it only explains them.
 */
export interface StepMeta {
  /** Stable across builds of one Dockerfile: its stage and the instruction's place in it. */
  readonly id: string;
  /** The instruction as written (continuations joined). */
  readonly instruction: string;
  /**
   * Build args and ENV variables the step's definition depends on, by
   * `ARG NAME` / `ENV NAME`: digests of the values, never the values.
   */
  readonly vars: Readonly<Record<string, string>>;
}

export interface Vertex {
  readonly digest: Digest;
  /**
   * The digest without build sessions (LocalSource.session, ExecOp.session):
   * the same for the same step over the same inputs in every build. Records
   * that outlive a build and follow a step (a COPY's lineage) are keyed by it;
   * equal to `digest` where no session is involved.
   */
  readonly definition: Digest;
  readonly op: Op;
  readonly inputs: readonly Vertex[];
  readonly meta: VertexMeta;
}

/** The digest of an op over the digests of its inputs: a Merkle DAG. */
export function vertexDigest(op: Op, inputs: readonly Vertex[]): Digest {
  return canonicalDigest({
    encoding: VERTEX_ENCODING,
    op,
    inputs: inputs.map((input) => input.digest),
  });
}

export function createVertex(op: Op, inputs: readonly Vertex[], meta: VertexMeta): Vertex {
  checkInputIndices(op, inputs.length);
  const digest = vertexDigest(op, inputs);
  return { digest, definition: definitionDigest(op, inputs, digest), op, inputs, meta };
}

function definitionDigest(op: Op, inputs: readonly Vertex[], digest: Digest): Digest {
  const free = withoutSession(op);
  if (free === op && inputs.every((input) => input.definition === input.digest)) return digest;
  return canonicalDigest({
    encoding: VERTEX_ENCODING,
    op: free,
    inputs: inputs.map((input) => input.definition),
  });
}

/** The op without the session that serves it (the same op otherwise, or `op` itself when it has none). */
function withoutSession(op: Op): Op {
  if (op.kind === 'exec' && op.session !== undefined) {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- dropped on purpose
    const { session, ...rest } = op;
    return rest;
  }
  if (op.kind === 'source' && op.source.type === 'local' && op.source.session !== undefined) {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- dropped on purpose
    const { session, ...rest } = op.source;
    return { ...op, source: rest };
  }
  return op;
}

function checkInputIndices(op: Op, count: number): void {
  const used: (number | undefined)[] = [];
  switch (op.kind) {
    case 'source':
      if (count !== 0) throw invariant(`a source op takes no inputs, got ${String(count)}`);
      return;
    case 'exec':
      for (const mount of op.mounts) {
        if (mount.type === 'bind' || mount.type === 'cache') used.push(mount.input);
      }
      break;
    case 'file':
      used.push(op.base);
      for (const action of op.actions) if (action.action === 'copy') used.push(action.from);
      break;
    case 'merge':
      if (count < 1) throw invariant('a merge op needs at least one input');
      return;
  }
  for (const index of used) {
    if (index !== undefined && (!Number.isInteger(index) || index < 0 || index >= count)) {
      throw invariant(`input index ${String(index)} out of range for ${String(count)} inputs`);
    }
  }
}

function invariant(message: string): TbuildError {
  return new TbuildError('TB_INTERNAL', `invalid IR: ${message}`);
}

/** Every vertex reachable from the roots, inputs before the vertices that use them. */
export function topologicalOrder(roots: readonly Vertex[]): Vertex[] {
  const seen = new Set<Digest>();
  const order: Vertex[] = [];
  const visit = (vertex: Vertex): void => {
    if (seen.has(vertex.digest)) return;
    seen.add(vertex.digest);
    for (const input of vertex.inputs) visit(input);
    order.push(vertex);
  };
  for (const root of roots) visit(root);
  return order;
}
