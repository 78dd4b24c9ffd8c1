/**
 * cache: content store (blobs by digest), snapshots, the cache-key index, the local image store and GC. Imports core only.
 * Not written yet: see the open issues.
 */
export {};
