import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The service's Prometheus metrics (prom-client), all named `tbuild_…`, in a
 * registry of their own (not prom-client's global one: tests run several
 * services in one process). `storeBytes` is asked for at scrape time.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly builds = new Counter({
    name: 'tbuild_builds_total',
    help: 'Builds that ended, by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly buildDuration = new Histogram({
    name: 'tbuild_build_duration_seconds',
    help: 'Time from a build starting to run until it ended.',
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  readonly stepDuration = new Histogram({
    name: 'tbuild_step_duration_seconds',
    help: 'Time a step ran (steps answered from the cache are not counted here).',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly queueLength = new Gauge({
    name: 'tbuild_queue_length',
    help: 'Builds waiting to start.',
    registers: [this.registry],
  });
  readonly running = new Gauge({
    name: 'tbuild_builds_running',
    help: 'Builds running now.',
    registers: [this.registry],
  });
  readonly cacheHits = new Counter({
    name: 'tbuild_cache_hits_total',
    help: 'Steps answered from the build cache.',
    registers: [this.registry],
  });
  readonly cacheMisses = new Counter({
    name: 'tbuild_cache_misses_total',
    help: 'Steps that ran.',
    registers: [this.registry],
  });
  readonly bytesPulled = new Counter({
    name: 'tbuild_pulled_bytes_total',
    help: 'Bytes of image layers downloaded from registries.',
    registers: [this.registry],
  });
  readonly bytesPushed = new Counter({
    name: 'tbuild_pushed_bytes_total',
    help: 'Bytes of blobs uploaded to registries (blobs the registry had or mounted are not counted).',
    registers: [this.registry],
  });

  constructor(storeBytes: () => Promise<number>) {
    const registry = this.registry;
    new Gauge({
      name: 'tbuild_store_bytes',
      help: 'Bytes the store under the root holds (blobs and snapshots).',
      registers: [registry],
      async collect() {
        this.set(await storeBytes());
      },
    });
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
