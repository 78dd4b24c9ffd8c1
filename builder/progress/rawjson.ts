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
      case 'vertex.cache-miss':
        // Not in BuildKit's SolveStatus: why a step ran although an earlier build had it.
        return {
          cacheMisses: [
            {
              vertex: event.vertex,
              reasons: event.reasons,
              components: event.components,
              timestamp: time,
            },
          ],
        };
      case 'warning':
        return { warnings: [warningStatus(event)] };
    }
  }

  finish(): void {
    // Every event was written as it came; nothing is buffered.
  }
}

/** A warning as BuildKit's VertexWarning: level 1, short and detail base64, url and range for a check. */
function warningStatus(event: ProgressEvent & { type: 'warning' }): Record<string, unknown> {
  const base64 = (text: string): string => Buffer.from(text).toString('base64');
  const check = event.check;
  return {
    ...(event.vertex === undefined ? {} : { vertex: event.vertex }),
    ...(check === undefined ? {} : { level: 1 }),
    short: base64(event.message),
    ...(check === undefined
      ? {}
      : {
          detail: [base64(check.description)],
          url: check.url,
          sourceInfo: { filename: check.file, language: 'Dockerfile' },
          ...(check.startLine === undefined
            ? {}
            : {
                range: [
                  {
                    start: { line: check.startLine },
                    end: { line: check.endLine ?? check.startLine },
                  },
                ],
              }),
        }),
  };
}
