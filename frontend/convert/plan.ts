import {
  createVertex,
  type LocalSource,
  type Op,
  type Vertex,
  type VertexMeta,
} from '../../solver/ir/index.js';

/**
 * The graph as lowering builds it. Vertices are content-addressed, so a vertex
 * that reads the build context can only be created once the context source is
 * final, and that source lists every path the whole build reads (followPaths).
 * Lowering therefore builds plan nodes first, with the context as a
 * placeholder, and turns them into vertices at the end (BuildKit binds its
 * context output late for the same reason).
 */
export interface PlanNode {
  readonly op: Op;
  readonly inputs: readonly PlanRef[];
  readonly meta: VertexMeta;
}

/** The build context, bound when the plan becomes vertices. */
export const CONTEXT = Symbol('build context');
export type PlanRef = PlanNode | typeof CONTEXT;

/** Inputs of one op, each ref added once; returns the index to use in the op. */
export class InputList {
  readonly refs: PlanRef[] = [];

  add(ref: PlanRef): number {
    const existing = this.refs.indexOf(ref);
    if (existing >= 0) return existing;
    this.refs.push(ref);
    return this.refs.length - 1;
  }
}

export function planNode(op: Op, inputs: readonly PlanRef[], meta: VertexMeta): PlanNode {
  return { op, inputs, meta };
}

/** Turns a plan into vertices, creating the context source from `context` when something reads it. */
export function materialize(
  roots: readonly (PlanRef | undefined)[],
  context: LocalSource,
  contextMeta: VertexMeta,
): (Vertex | undefined)[] {
  const done = new Map<PlanNode, Vertex>();
  let contextVertex: Vertex | undefined;
  const vertexOf = (ref: PlanRef): Vertex | undefined => {
    if (ref !== CONTEXT) return done.get(ref);
    contextVertex ??= createVertex({ kind: 'source', source: context }, [], contextMeta);
    return contextVertex;
  };
  // Inputs first, with an explicit stack: a chain of thousands of steps (or stages
  // copying from each other) must not overflow the call stack.
  const visit = (root: PlanRef): Vertex | undefined => {
    const stack: [PlanRef, number][] = [[root, 0]];
    for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
      const [ref, next] = top;
      if (ref === CONTEXT || done.has(ref)) {
        stack.pop();
        continue;
      }
      const input = ref.inputs[next];
      if (input !== undefined) {
        top[1] = next + 1;
        stack.push([input, 0]);
        continue;
      }
      stack.pop();
      const inputs = ref.inputs.map((item) => vertexOf(item) as Vertex);
      done.set(ref, createVertex(ref.op, inputs, ref.meta));
    }
    return vertexOf(root);
  };
  return roots.map((root) => (root === undefined ? undefined : visit(root)));
}
