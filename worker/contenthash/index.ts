/** worker/contenthash: content checksums of context and snapshot paths, with a persistent stat cache. */
export { checksumChildren, checksumPath, cleanRelative, type ChecksumOptions } from './checksum.js';
export { StatCache } from './stat-cache.js';
