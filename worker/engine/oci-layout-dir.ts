import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest, TbuildError, type Descriptor, type Digest } from '../../core/index.js';
import type { BuildStore } from './store.js';

interface OciIndex {
  readonly manifests?: readonly Descriptor[];
}

/**
 * Copies an OCI image layout directory (`oci-layout://DIR[:TAG|@DIGEST]` of
 * `--build-context`) into the content store, each blob verified against its
 * name, and returns the descriptor of the image asked for: the manifest with
 * that digest, or the one whose `org.opencontainers.image.ref.name` is TAG
 * (`latest` by default; a layout of one image needs no tag). No name is added
 * to the image store: the image is read by digest (readLocalImage).
 */
export async function importOciLayoutDir(
  store: BuildStore,
  dir: string,
  want: { readonly tag?: string; readonly digest?: Digest },
  signal: AbortSignal,
): Promise<Descriptor> {
  const chosen = await chooseOciLayoutImage(dir, want);
  const blobs = join(dir, 'blobs', 'sha256');
  for (const name of await readdir(blobs).catch(() => [] as string[])) {
    const digest = `sha256:${name}`;
    if (!isDigest(digest) || (await store.content.info(digest)) !== undefined) continue;
    await store.content.writeStream(createReadStream(join(blobs, name)), {
      signal,
      expected: { digest },
    });
  }
  if ((await store.content.info(chosen.digest)) === undefined) {
    throw new TbuildError(
      'TB_ARCHIVE_INVALID',
      `OCI layout ${dir} lacks the blob ${chosen.digest}`,
    );
  }
  return chosen;
}

/**
 * The descriptor of the image `want` names in an OCI layout's index.json (as
 * importOciLayoutDir chooses it), read without copying anything (`tbuild graph`).
 */
export async function chooseOciLayoutImage(
  dir: string,
  want: { readonly tag?: string; readonly digest?: Digest },
): Promise<Descriptor> {
  let index: OciIndex;
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as OciIndex;
  } catch (error) {
    throw new TbuildError('TB_FILE_READ', `${dir} is not an OCI layout: cannot read index.json`, {
      cause: error,
      hint: 'an OCI layout directory holds oci-layout, index.json and blobs/ (-o type=oci,tar=false writes one)',
    });
  }
  const manifests = index.manifests ?? [];
  const tag = want.tag ?? 'latest';
  const chosen =
    want.digest !== undefined
      ? manifests.find((m) => m.digest === want.digest)
      : (manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag) ??
        (want.tag === undefined && manifests.length === 1 ? manifests[0] : undefined));
  if (chosen === undefined || !isDigest(chosen.digest)) {
    throw new TbuildError(
      'TB_IMAGE_NOT_FOUND',
      `OCI layout ${dir} has no image ${want.digest ?? `tagged "${tag}"`}`,
      {
        hint: 'name a tag (oci-layout://DIR:TAG) or a digest (oci-layout://DIR@sha256:…) of its index.json',
      },
    );
  }
  return { mediaType: chosen.mediaType, digest: chosen.digest, size: chosen.size };
}
