import { sha256Digest, type Digest, type ProgressSink, type TbuildError } from '../core/index.js';

/**
 * One export shown as a step, as buildx shows it: a vertex named after the
 * output (`exporting to image`) whose sub-tasks are statuses with their times
 * (`exporting layers 0.4s done`, `naming to docker.io/library/app:1 done`).
 * Export is no solver vertex, so its digest is made up: unique per build and
 * output, so two outputs of one build are two steps.
 */
export class ExportStep {
  readonly #progress: ProgressSink;
  readonly vertex: Digest;
  #done = false;

  constructor(progress: ProgressSink, build: string, output: number, name: string) {
    this.#progress = progress;
    this.vertex = sha256Digest(`tbuild.export.v1 ${build} ${String(output)} ${name}`);
    progress({ type: 'vertex.started', vertex: this.vertex, name, inputs: [], at: Date.now() });
  }

  /** Runs `work` as the sub-task `name`, shown as started and then done with its time. */
  async task<T>(name: string, work: () => Promise<T>): Promise<T> {
    this.#status(name, false);
    const result = await work();
    this.#status(name, true);
    return result;
  }

  /** The step ends well. */
  complete(): void {
    if (this.#done) return;
    this.#done = true;
    this.#progress({ type: 'vertex.completed', vertex: this.vertex, at: Date.now() });
  }

  /** The step ends with `error` (or canceled), unless it ended already. */
  fail(error: TbuildError, canceled: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.#progress(
      canceled
        ? { type: 'vertex.canceled', vertex: this.vertex, at: Date.now() }
        : {
            type: 'vertex.error',
            vertex: this.vertex,
            error: error.toJSON(),
            at: Date.now(),
          },
    );
  }

  #status(id: string, completed: boolean): void {
    this.#progress({
      type: 'vertex.status',
      vertex: this.vertex,
      id,
      current: 0,
      completed,
      at: Date.now(),
    });
  }
}
