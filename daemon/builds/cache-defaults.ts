import { TbuildError } from '../../core/index.js';
import { parseBuildOptions, type BuildOptions } from '../../builder/index.js';
import type { ListOptions, SubmitRequest } from './build-manager.js';
import type { BuildRecord } from './build-record.js';
import type { Builds, EventFeed } from './builds.js';

/** The service's own `--cache-from` / `--cache-to` (config `cacheFrom`, `cacheTo`). */
export type CacheDefaults = Pick<BuildOptions, 'cacheFrom' | 'cacheTo'>;

/**
 * Reads the config's cache lists, written as the CLI's flags
 * (`type=registry,ref=registry.example/cache/app,mode=max`), with the CLI's checks.
 */
export function parseCacheDefaults(
  cacheFrom: readonly string[],
  cacheTo: readonly string[],
  where: string,
): CacheDefaults {
  const lists: Readonly<Record<string, readonly string[]>> = {
    'cache-from': cacheFrom,
    'cache-to': cacheTo,
  };
  try {
    const parsed = parseBuildOptions(
      { list: (name) => lists[name] ?? [], string: () => undefined, boolean: () => undefined },
      {},
    );
    return {
      ...(parsed.cacheFrom === undefined ? {} : { cacheFrom: parsed.cacheFrom }),
      ...(parsed.cacheTo === undefined ? {} : { cacheTo: parsed.cacheTo }),
    };
  } catch (error) {
    throw new TbuildError(
      'TB_SERVICE_CONFIG',
      `${where}: "cacheFrom" or "cacheTo": ${error instanceof Error ? error.message : String(error)}`,
      {
        hint: 'write each entry as the --cache-from / --cache-to flag takes it (docs/cli.md)',
        cause: error,
      },
    );
  }
}

/**
 * A build's cache options with the service's defaults: its own `cache-from`
 * first, then the service's (the first cache holding a key serves it); its own
 * `cache-to` instead of the service's. So every node sharing a registry cache
 * reuses what the others built.
 */
export function withCacheDefaults(options: BuildOptions, defaults: CacheDefaults): BuildOptions {
  const cacheFrom = [...(options.cacheFrom ?? []), ...(defaults.cacheFrom ?? [])];
  const cacheTo = options.cacheTo ?? defaults.cacheTo;
  return {
    ...options,
    ...(cacheFrom.length === 0 ? {} : { cacheFrom }),
    ...(cacheTo === undefined ? {} : { cacheTo }),
  };
}

/** The service's builds, each submitted with the cache defaults applied (any surface, any queue). */
export class BuildsWithCacheDefaults implements Builds {
  readonly #inner: Builds;
  readonly #defaults: CacheDefaults;

  constructor(inner: Builds, defaults: CacheDefaults) {
    this.#inner = inner;
    this.#defaults = defaults;
  }

  get stopping(): boolean {
    return this.#inner.stopping;
  }

  newId(): string {
    return this.#inner.newId();
  }

  submit(request: SubmitRequest): Promise<BuildRecord> {
    return this.#inner.submit({
      ...request,
      options: withCacheDefaults(request.options, this.#defaults),
    });
  }

  get(id: string): Promise<BuildRecord> {
    return this.#inner.get(id);
  }

  list(options: ListOptions): Promise<{ builds: BuildRecord[]; next?: string }> {
    return this.#inner.list(options);
  }

  events(id: string): Promise<EventFeed> {
    return this.#inner.events(id);
  }

  log(id: string): ReturnType<Builds['log']> {
    return this.#inner.log(id);
  }

  watch(id: string, sink: Parameters<Builds['watch']>[1]): ReturnType<Builds['watch']> {
    return this.#inner.watch(id, sink);
  }

  cancel(id: string): Promise<BuildRecord> {
    return this.#inner.cancel(id);
  }

  stop(graceMs: number): Promise<void> {
    return this.#inner.stop(graceMs);
  }
}
