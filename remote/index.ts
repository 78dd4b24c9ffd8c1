/**
 * remote: the remote builder protocol (proto/tbuild/v1/builder.proto), shared
 * by the client (`tbuild build --builder`, in cli/) and the server (`tbuild
 * serve --grpc`, in daemon/): the service definition, message types, the
 * context listing and its fingerprints, and the client's side of a build.
 * Kept apart from builder/ so that @grpc/grpc-js loads only when used.
 */
export { builderService, protoPath } from './proto.js';
export {
  CHUNK_BYTES,
  type Accepted,
  type ClientMessage,
  type FileChunk,
  type OutputChunk,
  type OutputKind,
  type Progress,
  type Result,
  type SecretReply,
  type SecretRequest,
  type ServerMessage,
  type SshData,
  type Start,
} from './messages.js';
export {
  decodeListing,
  encodeListing,
  listContext,
  sameEntry,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  type ListingEntry,
} from './listing.js';
export { decodeProgress, encodeProgress } from './progress-wire.js';
export { CLIENT_ONLY_FLAGS } from './options-wire.js';
export {
  runRemoteBuild,
  type BuilderEndpoint,
  type RemoteBuildJob,
  type RemoteBuildResult,
} from './client.js';
