import type { ProgressEvent } from '../../core/index.js';
import type { StepRecord } from './build-record.js';

/** What a step's progress tells the metrics: it ran (for how long) or came from the cache. */
export interface StepOutcome {
  readonly cached: boolean;
  readonly seconds?: number;
}

/**
 * Keeps a build's steps (name, start, end, cached, error) from its progress
 * events, in the order they first appeared, for the build record.
 */
export class StepTracker {
  readonly steps: StepRecord[] = [];
  readonly #byVertex = new Map<string, StepRecord>();

  /** Applies one event; returns the outcome when it ended a step. */
  apply(event: ProgressEvent): StepOutcome | undefined {
    if (event.type === 'warning') return undefined;
    const at = new Date(event.at).toISOString();
    const step = this.#step(event.vertex);
    switch (event.type) {
      case 'vertex.started':
        step.name = event.name;
        step.started ??= at;
        return undefined;
      case 'vertex.cached':
        step.name = event.name;
        step.cached = true;
        step.started ??= at;
        step.finished = at;
        return { cached: true };
      case 'vertex.completed':
      case 'vertex.error':
      case 'vertex.canceled': {
        step.finished = at;
        if (event.type === 'vertex.error') step.error = event.error.message;
        if (event.type === 'vertex.canceled') step.error = 'canceled';
        const started = step.started === undefined ? undefined : Date.parse(step.started);
        return {
          cached: false,
          ...(started === undefined ? {} : { seconds: Math.max(0, event.at - started) / 1000 }),
        };
      }
      case 'vertex.log':
      case 'vertex.status':
      case 'vertex.cache-miss':
        return undefined;
    }
  }

  /** Steps that started and never ended (the build was cancelled or failed around them). */
  unfinished(): StepRecord[] {
    return this.steps.filter((step) => step.started !== undefined && step.finished === undefined);
  }

  #step(vertex: string): StepRecord {
    let step = this.#byVertex.get(vertex);
    if (step === undefined) {
      step = { vertex, name: '', cached: false };
      this.#byVertex.set(vertex, step);
      this.steps.push(step);
    }
    return step;
  }
}
