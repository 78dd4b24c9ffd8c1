/**
 * daemon: the HTTP and gRPC build services; with cli/, the only place that reads config and env.
 * Not written yet: see the open issues.
 */
export {};
