/** frontend/describe: what `--call=targets` and `--call=outline` report about a Dockerfile. */
export { listTargets } from './targets.js';
export { outlineTarget, type OutlineOptions } from './outline.js';
export type {
  Outline,
  OutlineArg,
  OutlineMount,
  SourceLocation,
  TargetInfo,
  TargetList,
} from './types.js';
