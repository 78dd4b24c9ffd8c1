/** worker/layers: overlay upper directories to OCI layer tars and back (overlay form). */
export { applyLayerTar, type ApplyLayerOptions, type ApplyLayerResult } from './apply-layer.js';
export { upperDirTarChunks, upperDirToTar, type UpperToTarOptions } from './upper-to-tar.js';
export { defaultLayerFs, type LayerFs } from './layer-fs.js';
export { readTar, type TarReadEntry } from './tar-reader.js';
export { encodeEntryHeader, END_OF_ARCHIVE, type TimestampPrecision } from './tar-header.js';
export type { TarEntry, TarEntryType } from './tar-entry.js';
export { createEntry } from './create-entry.js';
export {
  extractLayerBlob,
  type ExtractBlobOptions,
  type ExtractBlobResult,
  type StoredLayerBlob,
} from './extract-blob.js';
