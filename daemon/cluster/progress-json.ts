import type { ProgressEvent } from '../../core/index.js';

/**
 * A progress event as JSON for the shared event stream, and back, so a node
 * that did not run the build can render it (the Docker API's stream). A log
 * chunk's bytes travel as base64.
 */
export function progressToJson(event: ProgressEvent): string {
  return JSON.stringify(
    event.type === 'vertex.log'
      ? { ...event, data: Buffer.from(event.data).toString('base64') }
      : event,
  );
}

export function progressFromJson(text: string): ProgressEvent {
  const event = JSON.parse(text) as ProgressEvent;
  if (event.type !== 'vertex.log') return event;
  return { ...event, data: Buffer.from(event.data as unknown as string, 'base64') };
}
