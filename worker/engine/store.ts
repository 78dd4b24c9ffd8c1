import type { TbuildStore } from '../../cache/index.js';

/** The parts of a tbuild root a build uses (the cache module's store). */
export type BuildStore = TbuildStore;
