import type { ProgressEvent } from '../core/index.js';
import type { Progress } from './messages.js';

/** A progress event on the wire: JSON, with a log event's bytes beside it (not base64). */
export function encodeProgress(event: ProgressEvent): Progress {
  if (event.type === 'vertex.log') {
    const { data, ...rest } = event;
    return {
      event: JSON.stringify(rest),
      log: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    };
  }
  return { event: JSON.stringify(event), log: Buffer.alloc(0) };
}

export function decodeProgress(message: Progress): ProgressEvent {
  const event = JSON.parse(message.event) as ProgressEvent;
  if (event.type === 'vertex.log') return { ...event, data: message.log };
  return event;
}
