/**
 * registry-client: references, auth, manifests and blobs as streams, push and mount. Imports core only.
 * Not written yet: see the open issues.
 */
export {};
