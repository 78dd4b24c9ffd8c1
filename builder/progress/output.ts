import type { ProgressEvent } from '../../core/index.js';

/** Where a display writes: a stream-like sink, so tests can capture output. */
export interface TextOutput {
  write(text: string): void;
  /** Terminal width and height, when the output is a terminal. */
  readonly columns?: number;
  readonly rows?: number;
}

/** How a display is driven: events in, then one `finish` when the build ends. */
export interface ProgressDisplay {
  readonly sink: (event: ProgressEvent) => void;
  /** Prints the final state (and the failure blocks); returns when output is flushed. */
  finish(): void;
}
