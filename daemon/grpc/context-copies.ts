import { createHash } from 'node:crypto';
import {
  open,
  lutimes,
  mkdir,
  readFile,
  rename,
  rm,
  symlink,
  chmod,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TbuildError } from '../../core/index.js';
import {
  decodeListing,
  sameEntry,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  type ListingEntry,
} from '../../remote/index.js';

/** A kept copy, held by one build from its sync to its end. */
export interface HeldCopy {
  readonly tree: string;
  release(): void;
}

/**
 * The last synced copy of each client's context, as BuildKit's file sync
 * keeps one per session's shared key: `<root>/v1/service/remote-contexts/<key>/`,
 * with `tree/` (the files) and `listing.gz` (the client's listing they match).
 * A build holds its copy until it ends, so a second build of the same context
 * waits rather than changing files under a running one.
 */
export class ContextCopies {
  readonly #dir: string;
  readonly #locks = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.#dir = join(root, 'v1', 'service', 'remote-contexts');
  }

  /** Waits for the copy of (caller, client key), then holds it. */
  async hold(caller: string, contextKey: string): Promise<HeldCopy> {
    const key = createHash('sha256').update(`${caller}\0${contextKey}`).digest('hex').slice(0, 32);
    const before = this.#locks.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const chained = before.then(() => mine);
    this.#locks.set(key, chained);
    await before;
    return {
      tree: join(this.#dir, key, 'tree'),
      release: () => {
        if (this.#locks.get(key) === chained) this.#locks.delete(key);
        release();
      },
    };
  }
}

/**
 * Brings the copy in `tree` to the client's `listing`: removes what is gone,
 * makes directories and symlinks, and returns the indexes of the regular
 * files whose fingerprint changed (the ones to ask for). The kept listing is
 * removed until `finishSync` writes the new one, so a sync cut short leaves a
 * copy the next one starts afresh.
 */
export async function planSync(tree: string, listingGz: Buffer): Promise<SyncPlan> {
  const listing = decodeListing(listingGz);
  refusePathsThroughSymlinks(listing);
  const listingFile = join(dirname(tree), 'listing.gz');
  const keptData = await readFile(listingFile).catch(() => undefined);
  const kept = new Map<string, ListingEntry>();
  if (keptData === undefined) await rm(tree, { recursive: true, force: true });
  else for (const entry of decodeListing(keptData)) kept.set(entry.path, entry);
  await rm(listingFile, { force: true });
  await mkdir(tree, { recursive: true });
  await rm(incomingDir(tree), { recursive: true, force: true });
  await mkdir(incomingDir(tree), { recursive: true });
  const wanted = new Map(listing.map((entry) => [entry.path, entry]));
  // Directories whose entries change get the client's time back at the end; the others
  // are left alone, so an edit costs syscalls for what it touched, not for the whole tree.
  const retime = new Set<string>();
  // Gone, or now of another type: removed (a removed directory takes its contents).
  for (const [path, entry] of kept) {
    const now = wanted.get(path);
    if (now === undefined || (now.mode & S_IFMT) !== (entry.mode & S_IFMT)) {
      await rm(join(tree, path), { recursive: true, force: true });
      retime.add(dirname(path));
    }
  }
  const fetch: number[] = [];
  const madeDirs = new Set<string>(['.']);
  const parentOf = async (path: string): Promise<void> => {
    const parent = dirname(path);
    if (madeDirs.has(parent)) return;
    await mkdir(join(tree, parent), { recursive: true });
    madeDirs.add(parent);
  };
  for (const [index, entry] of listing.entries()) {
    const target = join(tree, entry.path);
    const type = entry.mode & S_IFMT;
    await parentOf(entry.path);
    if (type === S_IFDIR) {
      madeDirs.add(entry.path);
      if (sameEntry(kept.get(entry.path), entry)) continue;
      await mkdir(target, { recursive: true });
      await chmod(target, entry.mode & 0o7777);
      retime.add(entry.path).add(dirname(entry.path));
    } else if (type === S_IFLNK) {
      if (sameEntry(kept.get(entry.path), entry)) continue;
      await rm(target, { force: true });
      await symlink(entry.link, target);
      await lutimes(target, ...times(entry));
      retime.add(dirname(entry.path));
    } else if (type === S_IFREG) {
      if (sameEntry(kept.get(entry.path), entry)) continue;
      fetch.push(index);
      retime.add(dirname(entry.path));
    } else {
      throw new TbuildError(
        'TB_SERVICE_REQUEST',
        `context entry ${entry.path} is of no type a context holds`,
      );
    }
  }
  return { listing, fetch, retime, listingFile, listingGz };
}

export interface SyncPlan {
  readonly listing: readonly ListingEntry[];
  /** Indexes into `listing` of the files to ask for, in order. */
  readonly fetch: readonly number[];
  /** Directories (context-relative, `.` the top) whose times are set once the files are in. */
  readonly retime: ReadonlySet<string>;
  readonly listingFile: string;
  readonly listingGz: Buffer;
}

/**
 * Writes the files the client sends, one at a time in the plan's order: each
 * to a temporary name, renamed in once whole, with the client's mode and mtime.
 */
export class FileReceiver {
  readonly #tree: string;
  readonly #plan: SyncPlan;
  #next = 0;
  #current: { index: number; handle: FileHandle; temp: string } | undefined;
  bytes = 0;

  constructor(tree: string, plan: SyncPlan) {
    this.#tree = tree;
    this.#plan = plan;
  }

  get done(): boolean {
    return this.#next >= this.#plan.fetch.length;
  }

  async chunk(index: number, data: Buffer, last: boolean): Promise<void> {
    const expected = this.#plan.fetch[this.#next];
    const entry = this.#plan.listing[index];
    if (index !== expected || entry === undefined)
      throw new TbuildError(
        'TB_SERVICE_REQUEST',
        `context file ${String(index)} came out of order`,
        {
          hint: 'the client and server speak different versions of the protocol',
        },
      );
    if (this.#current === undefined) {
      // Written outside the tree, so no name in the context can collide with it.
      const temp = join(incomingDir(this.#tree), String(index));
      this.#current = { index, handle: await open(temp, 'wx', 0o600), temp };
    }
    if (data.length > 0) await this.#current.handle.write(data);
    this.bytes += data.length;
    if (!last) return;
    const { handle, temp } = this.#current;
    this.#current = undefined;
    await handle.close();
    const target = join(this.#tree, entry.path);
    await chmod(temp, entry.mode & 0o7777);
    await lutimes(temp, ...times(entry));
    await rename(temp, target);
    this.#next++;
  }

  /** A sync cut short: the file being written is removed. */
  async abandon(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    if (current === undefined) return;
    await current.handle.close().catch(() => undefined);
    await rm(current.temp, { force: true });
  }
}

/** Every file is in: directories get their times, and the listing is kept for the next sync. */
export async function finishSync(tree: string, plan: SyncPlan): Promise<void> {
  // Deepest first: setting a directory's time after writing into it would be undone.
  const dirs = plan.listing
    .filter((entry) => (entry.mode & S_IFMT) === S_IFDIR && plan.retime.has(entry.path))
    .reverse();
  for (const entry of dirs) await lutimes(join(tree, entry.path), ...times(entry));
  const temp = `${plan.listingFile}.tmp`;
  await writeFile(temp, plan.listingGz);
  await rename(temp, plan.listingFile);
}

function incomingDir(tree: string): string {
  return join(dirname(tree), 'incoming');
}

/**
 * A path below a symlink of the listing would be written through the link,
 * anywhere on this machine; a real client's walk never lists one.
 */
function refusePathsThroughSymlinks(listing: readonly ListingEntry[]): void {
  const links = new Set(
    listing.filter((entry) => (entry.mode & S_IFMT) === S_IFLNK).map((entry) => entry.path),
  );
  if (links.size === 0) return;
  for (const entry of listing) {
    for (let parent = dirname(entry.path); parent !== '.'; parent = dirname(parent)) {
      if (links.has(parent))
        throw new TbuildError(
          'TB_SERVICE_REQUEST',
          `context entry ${entry.path} lies below the symlink ${parent}`,
        );
    }
  }
}

function times(entry: ListingEntry): [number, number] {
  const seconds = Number(BigInt(entry.mtimeNs) / 1000n) / 1e6;
  return [seconds, seconds];
}
