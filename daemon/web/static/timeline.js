import { el, replaceChildren } from './dom.js';
import { formatDuration } from './format.js';

/**
 * A build's steps as bars on one time axis, from each step's start to its end
 * (or now, while it runs): steps that ran at the same time sit side by side,
 * so parallel stages show. Cached steps are marked; a step's name is text.
 */
export class Timeline {
  /** vertex digest → { vertex, name, started?, finished?, cached, error? }, times in ms. */
  #steps = new Map();
  #element;

  constructor() {
    this.#element = el('section', { class: 'timeline', 'aria-label': 'Steps' });
  }

  get element() {
    return this.#element;
  }

  /** Takes the steps of a build record (`GET /v1/builds/<id>`). */
  addRecordSteps(steps) {
    for (const step of steps ?? []) {
      this.#merge(step.vertex, {
        name: step.name,
        started: step.started,
        finished: step.finished,
        cached: step.cached,
        error: step.error,
      });
    }
  }

  /** Takes the `vertexes` of one status of the event stream. */
  addVertexes(vertexes) {
    for (const vertex of vertexes ?? []) {
      this.#merge(vertex.digest, {
        name: vertex.name,
        started: vertex.started,
        finished: vertex.completed,
        cached: vertex.cached === true,
        error: vertex.error,
      });
    }
  }

  /** The name of a step, for the log's headings. */
  nameOf(vertex) {
    return this.#steps.get(vertex)?.name ?? '';
  }

  #merge(vertex, update) {
    if (typeof vertex !== 'string') return;
    const step = this.#steps.get(vertex) ?? { vertex, name: '', cached: false };
    if (typeof update.name === 'string' && update.name !== '') step.name = update.name;
    const started = toMillis(update.started);
    if (started !== undefined) step.started = Math.min(step.started ?? started, started);
    const finished = toMillis(update.finished);
    if (finished !== undefined) step.finished = Math.max(step.finished ?? finished, finished);
    if (update.cached === true) step.cached = true;
    if (typeof update.error === 'string' && update.error !== '') step.error = update.error;
    this.#steps.set(vertex, step);
  }

  /**
   * Draws the bars. While the build runs (`endedAt` undefined), steps without
   * an end grow to `now`; once it ended, a step that never told its end (cut
   * short by a cancel or a failure elsewhere) is drawn to the build's end and
   * said not to have finished.
   */
  render(now, endedAt) {
    const steps = [...this.#steps.values()].filter((step) => step.started !== undefined);
    if (steps.length === 0) {
      replaceChildren(this.#element, el('p', { class: 'empty' }, 'No steps yet.'));
      return;
    }
    steps.sort((a, b) => a.started - b.started);
    const start = steps[0].started;
    const latest = Math.max(...steps.map((step) => step.finished ?? step.started));
    const openEnd = Math.max(endedAt ?? now, latest);
    const span = Math.max(openEnd - start, 1);
    const rows = steps.map((step) => this.#row(step, start, span, openEnd, endedAt === undefined));
    replaceChildren(
      this.#element,
      el(
        'div',
        { class: 'timeline-axis', 'aria-hidden': 'true' },
        el('span', {}, '0s'),
        el('span', {}, formatDuration(span)),
      ),
      el('ol', { class: 'timeline-rows' }, ...rows),
    );
  }

  #row(step, start, span, openEnd, live) {
    const open = step.finished === undefined;
    const finished = step.finished ?? Math.max(openEnd, step.started);
    const took = formatDuration(finished - step.started);
    let state;
    let note;
    if (step.cached) [state, note] = ['cached', 'cached'];
    else if (step.error !== undefined) [state, note] = ['failed', `stopped after ${took}`];
    else if (open && live) [state, note] = ['running', `running ${took}`];
    else if (open) [state, note] = ['unfinished', 'did not finish'];
    else [state, note] = ['done', took];
    const bar = el('span', {
      class: `step-bar step-${state}`,
      title: `${step.name} — ${note}${step.error === undefined ? '' : `: ${step.error}`}`,
    });
    // Positions as CSSOM properties (allowed by the page's CSP, unlike style attributes).
    bar.style.left = `${String(((step.started - start) / span) * 100)}%`;
    bar.style.width = `${String(((finished - step.started) / span) * 100)}%`;
    return el(
      'li',
      { class: `step step-${state}`, 'data-vertex': step.vertex, 'data-state': state },
      el(
        'span',
        { class: 'step-name', title: step.name },
        step.name === '' ? step.vertex : step.name,
      ),
      el('span', { class: 'step-track' }, bar),
      el('span', { class: 'step-note' }, note),
    );
  }
}

function toMillis(iso) {
  if (typeof iso !== 'string') return undefined;
  const millis = Date.parse(iso);
  return Number.isNaN(millis) ? undefined : millis;
}
