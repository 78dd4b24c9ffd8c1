import { el } from './dom.js';

/** How much log text the view keeps; older text goes (the whole log stays at /logs). */
const MAX_CHARS = 2_000_000;

/**
 * A build's log as it streams: each `logs` entry's base64 data, decoded per
 * step (a UTF-8 character may be split between entries), appended as text.
 * A heading names the step whenever the output switches steps.
 */
export class LogView {
  #element;
  #decoders = new Map();
  #lastVertex = undefined;
  #chars = 0;
  #nameOf;

  /** `nameOf(vertex)` gives a step's name for the headings. */
  constructor(nameOf) {
    this.#nameOf = nameOf;
    this.#element = el('pre', { class: 'log', 'aria-label': 'Log', tabindex: '0' });
  }

  get element() {
    return this.#element;
  }

  /** Takes the `logs` of one status of the event stream. */
  addLogs(logs) {
    const follow = this.#atBottom();
    for (const entry of logs ?? []) {
      if (typeof entry.data !== 'string') continue;
      const text = this.#decode(entry.vertex, entry.data);
      if (text === '') continue;
      if (entry.vertex !== this.#lastVertex) {
        this.#lastVertex = entry.vertex;
        const name = this.#nameOf(entry.vertex);
        this.#append(el('span', { class: 'log-step' }, `── ${name === '' ? 'step' : name}\n`));
      }
      this.#append(el('span', { class: entry.stream === 2 ? 'log-stderr' : 'log-stdout' }, text));
    }
    if (follow) this.#element.scrollTop = this.#element.scrollHeight;
  }

  /** Shows a whole plain log instead (`GET /v1/builds/<id>/logs`). */
  setText(text) {
    this.#element.textContent = text;
    this.#chars = text.length;
  }

  get isEmpty() {
    return this.#chars === 0;
  }

  #decode(vertex, base64) {
    let decoder = this.#decoders.get(vertex);
    if (decoder === undefined) {
      decoder = new TextDecoder();
      this.#decoders.set(vertex, decoder);
    }
    let bytes;
    try {
      bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
    } catch {
      return '';
    }
    return decoder.decode(bytes, { stream: true });
  }

  #append(node) {
    this.#element.append(node);
    this.#chars += node.textContent.length;
    while (this.#chars > MAX_CHARS && this.#element.firstChild !== null) {
      this.#chars -= this.#element.firstChild.textContent.length;
      this.#element.firstChild.remove();
    }
  }

  #atBottom() {
    const log = this.#element;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }
}
