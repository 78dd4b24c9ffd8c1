import { describe, expect, it } from 'vitest';
import type { BuildOptions } from './options.js';
import { parseOutput } from './options.js';
import { needsBlobs, outputManifest, plannedManifest } from './result-image.js';

/** Only what the manifest settings read. */
const options = { annotations: undefined } as unknown as BuildOptions;

describe('which outputs need layer blobs, and the manifest each makes', () => {
  it('only a push, oci and docker need the bytes; the local store and filesystem outputs do not', () => {
    expect(needsBlobs(parseOutput('type=image,name=app'))).toBe(false);
    expect(needsBlobs(parseOutput('type=image,name=app,push=true'))).toBe(true);
    expect(needsBlobs(parseOutput('type=oci,dest=x.tar'))).toBe(true);
    expect(needsBlobs(parseOutput('type=docker'))).toBe(true);
    expect(needsBlobs(parseOutput('type=local,dest=out'))).toBe(false);
    expect(needsBlobs(parseOutput('type=tar,dest=out.tar'))).toBe(false);
  });

  it('the manifest-to-be is the image output’s, else the first archive’s, else gzip with OCI types', () => {
    const oci = parseOutput('type=oci,dest=x.tar,compression=zstd');
    const image = parseOutput('type=image,name=app,compression=gzip,oci-mediatypes=false');
    expect(plannedManifest([oci, image], options, undefined)).toEqual({
      compression: 'gzip',
      ociMediaTypes: false,
    });
    expect(plannedManifest([parseOutput('type=local,dest=o'), oci], options, 1)).toEqual({
      compression: 'zstd',
      ociMediaTypes: true,
    });
    expect(plannedManifest([], options, undefined)).toEqual({
      compression: 'gzip',
      ociMediaTypes: true,
    });
    // A docker archive has Docker's media types unless descriptor annotations ask for OCI's.
    expect(outputManifest(parseOutput('type=docker,dest=d.tar'), options, undefined)).toEqual({
      compression: 'gzip',
      ociMediaTypes: false,
    });
    expect(
      outputManifest(
        parseOutput('type=docker,dest=d.tar,annotation-manifest-descriptor.a=b'),
        options,
        undefined,
      ).ociMediaTypes,
    ).toBe(true);
  });
});
