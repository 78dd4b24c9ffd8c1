/**
 * worker: binds IR ops to real work with cache, runtime and registry-client; threads/ and exporters/. May import every module below the CLI.
 * Not written yet: see the open issues.
 */
export {};
