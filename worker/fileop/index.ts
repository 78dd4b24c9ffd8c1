/** worker/fileop: the file op's actions (COPY, ADD, WORKDIR's mkdir, heredoc files) applied to a directory. */
export { applyFileOp, type CopyFilters, type FileOpContext } from './actions.js';
export { applyModeSpec, parseModeSpec, type ModeSpec } from './chmod.js';
export { applyCopy, type CopyContext } from './copy.js';
export { resolveInRoot } from './in-root.js';
export { resolveOwner, type ResolvedOwner } from './owners.js';
export { expandWildcard, hasWildcard, matchComponent } from './wildcard.js';
export { copyUpDirectories, planLayerCopy, type LayerCopyPlan } from './layer-copy.js';
export { FileReuse } from './reuse.js';
export { keepsAnything, pathFilter, type PathFilter } from './path-filter.js';
