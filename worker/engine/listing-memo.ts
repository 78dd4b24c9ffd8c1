import type { ScannedDirectory } from '../../runtime/index.js';

/** Entries kept at most: the listings of a context of this many files (a few tens of MB). */
const MAX_ENTRIES = 200_000;

/**
 * Directory listings of the build context, kept from the checksum of a COPY's
 * sources for the copy that runs next: the copy then lists nothing again, and
 * copies the very entries its cache key was made from (a file changed in
 * between is copied as it is then, as without the memo). Each listing serves
 * once. A copy whose result was cached never takes its listings, so the memo
 * stops keeping more past MAX_ENTRIES entries.
 */
export class ListingMemo {
  readonly #listings = new Map<string, ScannedDirectory>();
  #entries = 0;

  /** Keeps `listing` as the one of `path`, in place of an older one. */
  keep(path: string, listing: ScannedDirectory): void {
    this.take(path);
    if (this.#entries + listing.count > MAX_ENTRIES) return;
    this.#listings.set(path, listing);
    this.#entries += listing.count;
  }

  /** The listing of `path` kept last, taken out of the memo; undefined when there is none. */
  take(path: string): ScannedDirectory | undefined {
    const listing = this.#listings.get(path);
    if (listing === undefined) return undefined;
    this.#listings.delete(path);
    this.#entries -= listing.count;
    return listing;
  }
}
