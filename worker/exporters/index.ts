/** worker/exporters: write a built image as an OCI layout, a docker archive, a directory or a tar. */
export { DirectorySink, type ArchiveSink } from './archive-sink.js';
export { shortDockerName, writeDockerArchive } from './docker-archive.js';
export {
  blobPath,
  buildManifest,
  serializeBlob,
  type ImageBundle,
  type LayerBlob,
  type SerializedBlob,
} from './image-bundle.js';
export { tagOf, writeBlobs, writeOciLayout, type LayoutOptions } from './oci-layout.js';
export { DeterministicTar } from './tar-writer.js';
