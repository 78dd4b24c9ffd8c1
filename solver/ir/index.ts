/** solver/ir: the op union, vertex identity and graph walks. The only part of solver the frontend may import. */
export type * from './ops.js';
export {
  createVertex,
  topologicalOrder,
  vertexDigest,
  VERTEX_ENCODING,
  type StepMeta,
  type Vertex,
  type VertexMeta,
} from './vertex.js';
