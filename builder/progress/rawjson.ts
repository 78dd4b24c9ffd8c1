import type { ProgressEvent } from '../../core/index.js';
import type { ProgressDisplay, TextOutput } from './output.js';

/**
 * One JSON status object per line, shaped like BuildKit's client.SolveStatus
 * (`vertexes`, `statuses`, `logs` with base64 data, `warnings`), unbuffered.
 */
export class RawJsonDisplay implements ProgressDisplay {
  readonly #out: TextOutput;
  readonly #names = new Map<string, { name: string; started?: string }>();

  constructor(out: TextOutput) {
    this.#out = out;
  }

  readonly sink = (event: ProgressEvent): void => {
    this.#out.write(`${JSON.stringify(this.#status(event))}\n`);
  };

  #status(event: ProgressEvent): Record<string, unknown> {
    const time = new Date(event.at).toISOString();
    switch (event.type) {
      case 'vertex.started':
        this.#names.set(event.vertex, { name: event.name, started: time });
        return {
          vertexes: [
            { digest: event.vertex, inputs: event.inputs, name: event.name, started: time },
          ],
        };
      case 'vertex.cached':
        this.#names.set(event.vertex, { name: event.name });
        return {
          vertexes: [
            {
              digest: event.vertex,
              name: event.name,
              cached: true,
              started: time,
              completed: time,
            },
          ],
        };
      case 'vertex.completed':
      case 'vertex.canceled':
      case 'vertex.error': {
        const known = this.#names.get(event.vertex);
        return {
          vertexes: [
            {
              digest: event.vertex,
              name: known?.name ?? '',
              ...(known?.started === undefined ? {} : { started: known.started }),
              completed: time,
              ...(event.type === 'vertex.error' ? { error: event.error.message } : {}),
              ...(event.type === 'vertex.canceled' ? { error: 'context canceled' } : {}),
            },
          ],
        };
      }
      case 'vertex.log':
        return {
          logs: [
            {
              vertex: event.vertex,
              stream: event.stream === 'stdout' ? 1 : 2,
              data: Buffer.from(event.data).toString('base64'),
              timestamp: time,
            },
          ],
        };
      case 'vertex.status':
        return {
          statuses: [
            {
              id: event.id,
              vertex: event.vertex,
              current: event.current,
              ...(event.total === undefined ? {} : { total: event.total }),
              timestamp: time,
              ...(event.completed ? { completed: time } : {}),
            },
          ],
        };
      case 'warning':
        return {
          warnings: [
            {
              ...(event.vertex === undefined ? {} : { vertex: event.vertex }),
              short: Buffer.from(event.message).toString('base64'),
            },
          ],
        };
    }
  }

  finish(): void {
    // Every event was written as it came; nothing is buffered.
  }
}
