/**
 * The `tbuild build` flags that act on the client only and never reach the
 * builder: where the Dockerfile and context are read, how progress shows, where
 * results are reported, this machine's store, and the builder's own address.
 * Every other flag is sent by name, and the server refuses a name its build
 * options do not read (a client newer than the server), rather than drop it.
 */
export const CLIENT_ONLY_FLAGS: readonly string[] = [
  'file',
  'progress',
  'quiet',
  'iidfile',
  'metadata-file',
  'max-parallelism',
  'root',
  'builder',
  'help',
];
