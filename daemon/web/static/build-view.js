import { apiFetch, apiJson, buildPath } from './api.js';
import { statusBadge } from './build-list-view.js';
import { el, replaceChildren } from './dom.js';
import { followEvents } from './event-stream.js';
import { buildDuration, formatTime, isFinished, tagsOf } from './format.js';
import { LogView } from './log-view.js';
import { Timeline } from './timeline.js';

/** How often a build's record is asked again until it is finished. */
const RECORD_REFRESH_MS = 1000;
/** How often running bars grow. */
const REDRAW_MS = 250;

/**
 * One build: its status and facts (`GET /v1/builds/<id>`), a cancel button
 * while it is queued or running, the timeline of its steps and its live log
 * (both from the event stream, which replays from the start).
 */
export function showBuild(container, id, { signal, report }) {
  const timeline = new Timeline();
  const log = new LogView((vertex) => timeline.nameOf(vertex));
  const status = el('span', { class: 'build-status' });
  const cancel = el('button', { type: 'button', class: 'cancel', hidden: true }, 'Cancel build');
  const facts = el('dl', { class: 'facts' });
  const failure = el('p', { class: 'build-error', hidden: true });
  replaceChildren(
    container,
    el('p', { class: 'back' }, el('a', { href: '#/' }, '← All builds')),
    el('div', { class: 'build-head' }, el('h1', {}, 'Build ', el('code', {}, id)), status, cancel),
    facts,
    failure,
    el('h2', {}, 'Timeline'),
    timeline.element,
    el('h2', {}, 'Log'),
    log.element,
  );

  let record;
  let recordTimer;
  const live = () => record === undefined || !isFinished(record.status);
  const draw = () =>
    timeline.render(
      Date.now(),
      record?.finishedAt === undefined || live() ? undefined : Date.parse(record.finishedAt),
    );
  const redraw = setInterval(() => {
    if (live()) draw();
  }, REDRAW_MS);

  async function refreshRecord() {
    clearTimeout(recordTimer);
    try {
      record = await apiJson(buildPath(id), { signal });
      if (signal.aborted) return;
      timeline.addRecordSteps(record.steps);
      renderRecord(record);
      draw();
      report(undefined);
    } catch (error) {
      if (signal.aborted) return;
      report(error);
    }
    if (!signal.aborted && live())
      recordTimer = setTimeout(() => void refreshRecord(), RECORD_REFRESH_MS);
  }

  function renderRecord(shown) {
    replaceChildren(status, statusBadge(shown.status));
    const cancellable = shown.status === 'queued' || shown.status === 'running';
    cancel.hidden = !cancellable;
    if (!cancellable) cancel.disabled = false;
    const rows = [
      ['Tags', tagsOf(shown)],
      ['Owner', shown.owner ?? ''],
      ['Submitted', formatTime(shown.createdAt)],
      ['Started', formatTime(shown.startedAt)],
      ['Finished', formatTime(shown.finishedAt)],
      ['Duration', buildDuration(shown)],
      ['Image', shown.result?.manifestDigest ?? shown.result?.configDigest ?? ''],
    ].filter(([, value]) => value !== '');
    replaceChildren(
      facts,
      ...rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]),
    );
    failure.hidden = shown.error === undefined;
    failure.textContent =
      shown.error === undefined ? '' : `${shown.error.code}: ${shown.error.message}`;
  }

  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    cancel.textContent = 'Cancelling…';
    try {
      await apiFetch(buildPath(id, '/cancel'), { method: 'POST', signal });
      await refreshRecord();
    } catch (error) {
      if (!signal.aborted) report(error);
    } finally {
      cancel.disabled = false;
      cancel.textContent = 'Cancel build';
    }
  });

  signal.addEventListener('abort', () => {
    clearTimeout(recordTimer);
    clearInterval(redraw);
  });

  void refreshRecord();
  followEvents(buildPath(id, '/events'), {
    signal,
    onData: (update) => {
      timeline.addVertexes(update.vertexes);
      log.addLogs(update.logs);
      draw();
    },
    onEnd: () => {
      void refreshRecord();
      // Nothing printed (every step cached, or the events were lost): the plain log
      // still names each step and what became of it.
      if (log.isEmpty) void showPlainLog(id, log, signal);
    },
  }).catch((error) => {
    if (signal.aborted) return;
    report(error);
    void showPlainLog(id, log, signal);
  });
}

async function showPlainLog(id, log, signal) {
  try {
    const text = await (await apiFetch(buildPath(id, '/logs'), { signal })).text();
    if (!signal.aborted && text !== '') log.setText(text);
  } catch {
    // The stream's error was reported already; the log stays as it is.
  }
}
