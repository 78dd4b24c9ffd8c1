/** The Dockerfile parser: text → typed instructions (instructions.ts) grouped into stages. */
export type * from './instructions.js';
export { parseDockerfile, parseInstruction } from './parse.js';
