import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Piscina } from 'piscina';
import {
  canceledError,
  isTbuildError,
  TbuildError,
  type SerializedError,
} from '../../core/index.js';
import * as tasks from './tasks/index.js';

export type TaskName = keyof typeof tasks;
type TaskInput<N extends TaskName> = Parameters<(typeof tasks)[N]>[0];
type TaskOutput<N extends TaskName> = Awaited<ReturnType<(typeof tasks)[N]>>;

/** Runs CPU-heavy tasks off the main thread. */
export interface ThreadPool {
  /**
   * `transfer` lists buffers of `input` that move to the thread instead of
   * being copied; the caller must not touch them afterwards (they are detached).
   */
  run<N extends TaskName>(
    name: N,
    input: TaskInput<N>,
    signal?: AbortSignal,
    transfer?: readonly ArrayBuffer[],
  ): Promise<TaskOutput<N>>;
  readonly size: number;
  /** Starts the threads now, ahead of the tasks the caller knows are coming. */
  warm(): void;
  close(): Promise<void>;
}

export interface ThreadPoolOptions {
  readonly maxThreads?: number;
  /**
   * Tests only: real piscina threads running the TypeScript tasks through tsx (a dev
   * dependency), so code run from source can check what crosses the thread boundary.
   */
  readonly fromSource?: boolean;
}

/**
 * The real pool: piscina threads loading the compiled tasks from dist/. Node 20
 * threads cannot load TypeScript, so when the compiled tasks are missing (tests
 * run from source) the caller gets an InlinePool instead: same tasks, same data
 * crossing a structured-clone boundary, on the calling thread.
 */
export function createThreadPool(options: ThreadPoolOptions = {}): ThreadPool {
  const maxThreads = options.maxThreads ?? availableParallelism();
  if (options.fromSource === true) return new PiscinaPool(sourceTaskEntry(), maxThreads, true);
  // Two levels up and back down, so the path is the same from dist/worker/threads/pool.js
  // and from the CLI bundle at dist/bundle/cli/main.js (see the build script in package.json).
  const taskFile = new URL('../../worker/threads/tasks/index.js', import.meta.url);
  if (!existsSync(fileURLToPath(taskFile))) return new InlinePool();
  return new PiscinaPool(taskFile, maxThreads, false);
}

/**
 * A JavaScript entry for threads that registers tsx and then imports the TypeScript
 * tasks; it runs any of them by name (`dispatch`), so the list of tasks stays in
 * tasks/index.ts. A temporary file (the repository holds TypeScript only), named by its
 * content so every test run reuses it, and renamed into place so no thread reads half.
 */
function sourceTaskEntry(): URL {
  const text = [
    `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};`,
    'register();',
    `const tasks = await import(${JSON.stringify(new URL('./tasks/index.ts', import.meta.url).href)});`,
    'export function dispatch({ name, input }) { return tasks[name](input); }',
    '',
  ].join('\n');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const file = join(tmpdir(), `tbuild-source-tasks-${hash}.mjs`);
  if (!existsSync(file)) {
    const temp = `${file}.${String(process.pid)}`;
    writeFileSync(temp, text);
    renameSync(temp, file);
  }
  return pathToFileURL(file);
}

class PiscinaPool implements ThreadPool {
  readonly size: number;
  readonly #taskFile: URL;
  readonly #dispatch: boolean;
  /**
   * Made on first use: loading piscina costs ~25 ms of every command's startup,
   * and a build whose steps are all cached never runs a task.
   */
  #piscina: Promise<Piscina> | undefined;

  constructor(taskFile: URL, maxThreads: number, dispatch: boolean) {
    this.size = maxThreads;
    this.#taskFile = taskFile;
    this.#dispatch = dispatch;
  }

  async run<N extends TaskName>(
    name: N,
    input: TaskInput<N>,
    signal?: AbortSignal,
    transfer?: readonly ArrayBuffer[],
  ): Promise<TaskOutput<N>> {
    const piscina = await this.#start();
    try {
      return (await piscina.run(this.#dispatch ? { name, input } : input, {
        name: this.#dispatch ? 'dispatch' : name,
        ...(signal === undefined ? {} : { signal }),
        ...(transfer === undefined ? {} : { transferList: [...transfer] }),
      })) as TaskOutput<N>;
    } catch (error) {
      throw rebuildError(error, signal);
    }
  }

  warm(): void {
    void this.#start();
  }

  async close(): Promise<void> {
    const piscina = this.#piscina;
    this.#piscina = undefined;
    if (piscina !== undefined) await (await piscina).destroy();
  }

  #start(): Promise<Piscina> {
    this.#piscina ??= import('piscina').then(
      ({ Piscina }) =>
        new Piscina({
          filename: this.#taskFile.href,
          maxThreads: this.size,
          // All at once when first needed: a layer keeps every thread busy anyway.
          minThreads: this.size,
          idleTimeout: 2000,
        }),
    );
    return this.#piscina;
  }
}

/** Runs tasks on the calling thread; used from source and in unit tests. */
export class InlinePool implements ThreadPool {
  readonly size = 1;

  run<N extends TaskName>(
    name: N,
    input: TaskInput<N>,
    signal?: AbortSignal,
    transfer?: readonly ArrayBuffer[],
  ): Promise<TaskOutput<N>> {
    if (signal?.aborted === true) return Promise.reject(canceledError(signal));
    const task = tasks[name] as (input: TaskInput<N>) => TaskOutput<N>;
    try {
      // Transferring detaches the caller's buffers here too, so misuse shows in tests.
      const cloned = structuredClone(
        input,
        transfer === undefined ? {} : { transfer: [...transfer] },
      );
      // Async tasks reject later: their errors need rebuilding as much as thrown ones.
      return Promise.resolve(task(cloned)).catch((error: unknown) => {
        throw rebuildError(error, signal);
      });
    } catch (error) {
      return Promise.reject(rebuildError(error, signal));
    }
  }

  warm(): void {
    // Nothing to start: tasks run on the calling thread.
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Errors lose their class and fields crossing a thread (structuredClone keeps
 * only message and name), so tasks throw TbuildErrors whose code survives in the
 * message-less form `{code, message, details}` and are rebuilt here.
 */
function rebuildError(error: unknown, signal: AbortSignal | undefined): TbuildError {
  if (signal?.aborted === true) return canceledError(signal);
  if (isTbuildError(error)) return error;
  const data = error as Partial<SerializedError> | undefined;
  if (data !== undefined && typeof data.code === 'string' && typeof data.message === 'string') {
    return TbuildError.fromJSON(data as SerializedError);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TbuildError('TB_INTERNAL', `thread task failed: ${message}`, { cause: error });
}
