/**
 * The tasks piscina threads run, by name. Tasks take and return plain data and
 * stay light: core and pure helpers only, never piscina, the runtime or HTTP.
 */
export { deflateBlock } from './compress.js';
export { hashFile } from './hash-file.js';
