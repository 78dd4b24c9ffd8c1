import type { Digest, ProgressEvent, ProgressSink } from '../core/index.js';

/**
 * Delivers a vertex's progress to every build waiting on it. A build that joins
 * work already in flight first gets the vertex's `started` event replayed, so
 * its display has a row to put later events in.
 */
export class ProgressFanout {
  readonly #watchers = new Map<Digest, Set<ProgressSink>>();
  readonly #started = new Map<Digest, ProgressEvent>();

  watch(vertex: Digest, sink: ProgressSink): void {
    let sinks = this.#watchers.get(vertex);
    if (sinks === undefined) {
      sinks = new Set();
      this.#watchers.set(vertex, sinks);
    }
    if (sinks.has(sink)) return;
    sinks.add(sink);
    const started = this.#started.get(vertex);
    if (started !== undefined) sink(started);
  }

  unwatch(vertex: Digest, sink: ProgressSink): void {
    const sinks = this.#watchers.get(vertex);
    sinks?.delete(sink);
    if (sinks?.size === 0) {
      this.#watchers.delete(vertex);
      this.#started.delete(vertex);
    }
  }

  /** The sink an op writes to: events go to every current watcher. */
  sinkFor(vertex: Digest): ProgressSink {
    return (event) => {
      if (event.type === 'vertex.started') this.#started.set(vertex, event);
      else if (isFinal(event)) this.#started.delete(vertex);
      for (const sink of this.#watchers.get(vertex) ?? []) sink(event);
    };
  }
}

function isFinal(event: ProgressEvent): boolean {
  return (
    event.type === 'vertex.completed' ||
    event.type === 'vertex.cached' ||
    event.type === 'vertex.error' ||
    event.type === 'vertex.canceled'
  );
}
