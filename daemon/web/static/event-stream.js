import { apiFetch } from './api.js';

/**
 * Reads a build's server-sent events. EventSource cannot send an
 * Authorization header, so this reads the stream with fetch and parses it:
 * `onData(json, id)` for each status, `onEnd(json)` for the final `end`
 * event. A dropped connection is resumed with Last-Event-ID, as the API
 * allows, until `signal` aborts or the end arrives.
 */
export async function followEvents(path, { onData, onEnd, signal }) {
  let lastId = '';
  let failures = 0;
  while (!signal.aborted) {
    try {
      const response = await apiFetch(path, {
        headers: lastId === '' ? {} : { 'last-event-id': lastId },
        signal,
      });
      failures = 0;
      const ended = await readEvents(response.body, signal, (event) => {
        if (event.id !== '') lastId = event.id;
        if (event.type === 'end') onEnd(parseJson(event.data));
        else onData(parseJson(event.data), event.id);
      });
      if (ended) return;
    } catch (error) {
      if (signal.aborted) return;
      // 4xx will not get better by asking again; anything else may.
      if (error.status !== undefined && error.status < 500) throw error;
      failures += 1;
    }
    await pause(Math.min(5000, 500 * 2 ** failures), signal);
  }
}

/** Parses the stream into events; resolves true once the `end` event came. */
async function readEvents(body, signal, handle) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', onAbort);
  let buffer = '';
  let event = { id: '', type: 'message', data: '' };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buffer += value;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (event.data !== '' || event.type === 'end') {
            handle(event);
            if (event.type === 'end') return true;
          }
          event = { id: event.id, type: 'message', data: '' };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') event.id = value;
        else if (field === 'event') event.type = value;
        else if (field === 'data')
          event.data = event.data === '' ? value : `${event.data}\n${value}`;
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

function pause(milliseconds, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, milliseconds);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
