/**
 * frontend/dockerignore: Docker's .dockerignore semantics (moby/patternmatcher
 * with its ignorefile reader, and the walk rules of BuildKit's context sender).
 */
export { parseDockerignore, type IgnoreRule } from './parse.js';
export { createIgnoreMatcher, type IgnoreMatcher } from './matcher.js';
export { chooseDockerignore } from './choose.js';
