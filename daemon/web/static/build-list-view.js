import { apiJson } from './api.js';
import { el, replaceChildren } from './dom.js';
import { buildDuration, formatTime, tagsOf } from './format.js';

/** How often the list asks again: builds come and go while it is open. */
const REFRESH_MS = 2000;
const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

/**
 * The builds the service knows, newest first (`GET /v1/builds`), refreshed
 * while shown, filtered by status if asked.
 */
export function showBuildList(container, { signal, report }) {
  const rows = el('tbody');
  const filter = el(
    'select',
    { id: 'status-filter', onchange: () => void refresh() },
    el('option', { value: '' }, 'all'),
    ...STATUSES.map((status) => el('option', { value: status }, status)),
  );
  replaceChildren(
    container,
    el(
      'div',
      { class: 'list-head' },
      el('h1', {}, 'Builds'),
      el('label', { for: 'status-filter' }, 'Status '),
      filter,
    ),
    el(
      'table',
      { class: 'builds' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['Build', 'Status', 'Tags', 'Owner', 'Submitted', 'Duration'].map((title) =>
            el('th', { scope: 'col' }, title),
          ),
        ),
      ),
      rows,
    ),
  );

  let timer;
  let asking = 0;
  async function refresh() {
    clearTimeout(timer);
    const mine = ++asking;
    try {
      const query = new URLSearchParams({ limit: '100' });
      if (filter.value !== '') query.set('status', filter.value);
      const page = await apiJson(`/v1/builds?${query.toString()}`, { signal });
      // An answer to an older question (the filter changed meanwhile) is dropped.
      if (mine !== asking || signal.aborted) return;
      replaceChildren(rows, ...renderRows(page.builds ?? []));
      report(undefined);
    } catch (error) {
      if (signal.aborted) return;
      report(error);
    }
    if (!signal.aborted && mine === asking) timer = setTimeout(() => void refresh(), REFRESH_MS);
  }
  signal.addEventListener('abort', () => clearTimeout(timer));
  void refresh();
}

function renderRows(builds) {
  if (builds.length === 0)
    return [el('tr', {}, el('td', { colspan: '6', class: 'empty' }, 'No builds yet.'))];
  const now = Date.now();
  return builds.map((build) =>
    el(
      'tr',
      { 'data-build': build.id },
      el('td', {}, el('a', { href: `#/builds/${encodeURIComponent(build.id)}` }, build.id)),
      el('td', {}, statusBadge(build.status)),
      el('td', {}, tagsOf(build)),
      el('td', {}, build.owner ?? ''),
      el('td', {}, formatTime(build.createdAt)),
      el('td', {}, buildDuration(build, now)),
    ),
  );
}

/** A build's status as a badge; an unknown status is shown, but styled as nothing known. */
export function statusBadge(status) {
  const known = STATUSES.includes(status) ? status : 'unknown';
  return el('span', { class: `status status-${known}` }, String(status));
}
