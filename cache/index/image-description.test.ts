import { describe, expect, it } from 'vitest';
import { MEDIA_TYPES, sha256Digest } from '../../core/index.js';
import {
  descriptionReferences,
  IMAGE_DESCRIPTION_MEDIA_TYPE,
  parseImageDescription,
  type ImageDescription,
} from './image-description.js';

const config = { mediaType: MEDIA_TYPES.ociConfig, digest: sha256Digest('config'), size: 6 };
const blob = { mediaType: MEDIA_TYPES.ociLayerGzip, digest: sha256Digest('blob'), size: 4 };

function bytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

const valid: ImageDescription = {
  mediaType: IMAGE_DESCRIPTION_MEDIA_TYPE,
  config,
  layers: [
    { diffId: sha256Digest('a'), snapshot: 'abc123', blob, size: 1 },
    { diffId: sha256Digest('b'), snapshot: 'def456', size: 2 },
    { diffId: sha256Digest('c'), blob, size: 3 },
  ],
  manifest: { compression: 'gzip', ociMediaTypes: true },
};

describe('image descriptions', () => {
  it('parse, and name what they keep: the config, known blobs and snapshots', () => {
    const parsed = parseImageDescription(bytes(valid));
    expect(parsed).toEqual(valid);
    expect(descriptionReferences(parsed ?? valid)).toEqual({
      descriptors: [config, blob, blob],
      snapshots: ['abc123', 'def456'],
    });
  });

  it('are refused when malformed: another media type, a layer with neither snapshot nor blob, no manifest-to-be', () => {
    expect(parseImageDescription(Buffer.from('not json'))).toBeUndefined();
    expect(
      parseImageDescription(bytes({ ...valid, mediaType: MEDIA_TYPES.ociManifest })),
    ).toBeUndefined();
    expect(
      parseImageDescription(bytes({ ...valid, layers: [{ diffId: sha256Digest('a'), size: 1 }] })),
    ).toBeUndefined();
    expect(
      parseImageDescription(
        bytes({ ...valid, layers: [{ diffId: 'sha256:short', snapshot: 'abc123', size: 1 }] }),
      ),
    ).toBeUndefined();
    expect(parseImageDescription(bytes({ ...valid, manifest: undefined }))).toBeUndefined();
  });
});
