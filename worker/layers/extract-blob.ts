/**
 * A layer blob from the content store → a layer directory, checking both of its digests:
 * the blob's (the compressed bytes, as the manifest names them) and the diff id (the
 * uncompressed tar, as the image config lists it), like containerd's unpacker. Both are
 * hashed while the tar is applied, so the blob is read once; the caller must not commit
 * `dir` unless this resolves (files are written before the end of the blob is seen).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import {
  canceledError,
  isTbuildError,
  parseDigest,
  TbuildError,
  type Digest,
  type Logger,
} from '../../core/index.js';
import { applyLayerTar, type ApplyLayerOptions, type ApplyLayerResult } from './apply-layer.js';

export interface StoredLayerBlob {
  /** The blob's file in the content store. */
  readonly path: string;
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  /** The image config's diff id for this layer; checked when given. */
  readonly diffId?: Digest;
}

export interface ExtractBlobOptions {
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  readonly opaqueXattr?: ApplyLayerOptions['opaqueXattr'];
  /** zstd layers need a decompressor (Node 20 has none); without one they are refused. */
  readonly zstd?: (
    source: AsyncIterable<Uint8Array>,
    signal: AbortSignal,
  ) => AsyncIterable<Uint8Array>;
}

export interface ExtractBlobResult extends ApplyLayerResult {
  /** sha256 of the uncompressed tar. */
  readonly diffId: Digest;
}

const READ_SIZE = 1024 * 1024;

type Stage = (source: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>;

export async function extractLayerBlob(
  blob: StoredLayerBlob,
  dir: string,
  options: ExtractBlobOptions,
): Promise<ExtractBlobResult> {
  const compressed = counting(createHash('sha256'));
  const uncompressed = counting(createHash('sha256'));
  let applied: ApplyLayerResult | undefined;
  const apply = async (source: AsyncIterable<Uint8Array>): Promise<void> => {
    // One iterator shared with the tar reader, which stops at the end-of-archive
    // blocks: what follows them must still be read, or the digests miss bytes.
    const iterator = source[Symbol.asyncIterator]();
    applied = await applyLayerTar({ [Symbol.asyncIterator]: () => iterator }, dir, {
      signal: options.signal,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.opaqueXattr === undefined ? {} : { opaqueXattr: options.opaqueXattr }),
    });
    while ((await iterator.next()).done !== true) {
      // draining into the hash
    }
  };
  try {
    const file = createReadStream(blob.path, { highWaterMark: READ_SIZE });
    const pipelineOptions = { signal: options.signal };
    if (blob.mediaType.endsWith('gzip')) {
      const gunzip = createGunzip({ chunkSize: 256 * 1024 });
      await pipeline(file, compressed.stage, gunzip, uncompressed.stage, apply, pipelineOptions);
    } else if (blob.mediaType.endsWith('zstd')) {
      const zstd = options.zstd;
      if (zstd === undefined) {
        throw new TbuildError('TB_UNSUPPORTED', `no zstd decompressor for layer ${blob.digest}`);
      }
      const unzstd: Stage = (source) => zstd(source, options.signal);
      await pipeline(file, compressed.stage, unzstd, uncompressed.stage, apply, pipelineOptions);
    } else {
      await pipeline(file, compressed.stage, uncompressed.stage, apply, pipelineOptions);
    }
  } catch (error) {
    throw extractError(error, blob, options.signal);
  }
  const digest = compressed.digest();
  if (digest !== blob.digest || compressed.bytes() !== blob.size) {
    throw new TbuildError(
      'TB_CONTENT_CORRUPT',
      `blob ${blob.digest} is corrupt: its bytes hash to ${digest}`,
      {
        hint: 'the blob was removed from the store; run the build again to fetch or rebuild it',
        details: { digest: blob.digest, found: digest, size: compressed.bytes() },
      },
    );
  }
  const diffId = uncompressed.digest();
  if (blob.diffId !== undefined && diffId !== blob.diffId) {
    throw new TbuildError(
      'TB_IMAGE_INVALID',
      `layer ${blob.digest} uncompresses to ${diffId}, but the image config says ${blob.diffId}`,
      {
        hint: 'the image is inconsistent; rebuild or re-push it',
        details: { digest: blob.digest, diffId: blob.diffId, found: diffId },
      },
    );
  }
  if (applied === undefined) throw new TbuildError('TB_INTERNAL', 'layer tar was not applied');
  return { ...applied, diffId };
}

/** A pass-through pipeline stage that hashes and counts what goes by. */
function counting(hash: Hash): { stage: Stage; digest(): Digest; bytes(): number } {
  let bytes = 0;
  return {
    stage: async function* (source) {
      for await (const chunk of source) {
        hash.update(chunk);
        bytes += chunk.length;
        yield chunk;
      }
    },
    digest: () => parseDigest(`sha256:${hash.digest('hex')}`),
    bytes: () => bytes,
  };
}

function extractError(error: unknown, blob: StoredLayerBlob, signal: AbortSignal): TbuildError {
  if (signal.aborted) return canceledError(signal);
  if (isTbuildError(error)) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' && (error as NodeJS.ErrnoException).path === blob.path) {
    return new TbuildError('TB_CONTENT_NOT_FOUND', `blob ${blob.digest} is not in the store`, {
      details: { digest: blob.digest },
      cause: error,
    });
  }
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new TbuildError('TB_LAYER_INVALID', `layer ${blob.digest} is not valid gzip`, {
      details: { digest: blob.digest, zlib: code },
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TbuildError('TB_INTERNAL', `extracting layer ${blob.digest}: ${message}`, {
    cause: error,
  });
}
