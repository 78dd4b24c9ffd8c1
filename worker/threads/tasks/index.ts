/**
 * The tasks piscina threads run, by name. Tasks take and return plain data and
 * stay light: core and pure helpers only, never piscina or HTTP. extractLayer
 * needs the layer code and the runtime's native addon, so it imports them lazily.
 */
export { deflateBlock } from './compress.js';
export { extractLayer } from './extract-layer.js';
export { hashFile, hashFiles } from './hash-file.js';
