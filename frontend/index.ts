/**
 * frontend: Dockerfile → typed instructions → stages → IR plus image config.
 * Imports core and solver/ir only; learns about base images through the
 * ImageMetaResolver interface it declares, never by pulling them itself.
 */
export type * from './dockerfile/instructions.js';
export { parseDockerfile, parseInstruction } from './dockerfile/index.js';
