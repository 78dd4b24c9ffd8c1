import { forgetToken, storedToken, storeToken } from './api.js';
import { showBuildList } from './build-list-view.js';
import { showBuild } from './build-view.js';
import { el, replaceChildren } from './dom.js';

/**
 * The web view of `tbuild serve`: `#/` lists the builds, `#/builds/<id>`
 * shows one. A token given as `#token=…` (or `…?token=…` after a route) is
 * kept in sessionStorage and taken out of the address bar.
 */

const view = document.getElementById('view');
const problem = document.getElementById('problem');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token-input');
const forgetButton = document.getElementById('forget-token');

/** The shown view's life: aborted when the route changes, which stops its requests and timers. */
let shown = new AbortController();

function route() {
  takeTokenFromFragment();
  shown.abort();
  shown = new AbortController();
  forgetButton.hidden = storedToken() === undefined;
  report(undefined);
  const path = routeOf(location.hash);
  const context = { signal: shown.signal, report };
  const build = /^\/builds\/([^/]+)$/.exec(path);
  if (path === '/' || path === '') showBuildList(view, context);
  else if (build !== null) showBuild(view, decodeURIComponent(build[1]), context);
  else
    replaceChildren(
      view,
      el('p', {}, 'Nothing here. '),
      el('p', {}, el('a', { href: '#/' }, 'All builds')),
    );
}

/** The route part of the fragment: `#/builds/x?token=y` → `/builds/x`. */
function routeOf(hash) {
  const text = hash.replace(/^#/, '');
  if (!text.startsWith('/')) return '/';
  const query = text.indexOf('?');
  return query < 0 ? text : text.slice(0, query);
}

function takeTokenFromFragment() {
  const text = location.hash.replace(/^#/, '');
  const query = text.startsWith('/') ? text.indexOf('?') : -1;
  const routePart = text.startsWith('/') ? (query < 0 ? text : text.slice(0, query)) : '/';
  const params = new URLSearchParams(
    text.startsWith('/') ? (query < 0 ? '' : text.slice(query + 1)) : text,
  );
  const token = params.get('token');
  if (token === null) return;
  storeToken(token);
  params.delete('token');
  const rest = params.toString();
  // replaceState: the token leaves the address bar and the history without a new route event.
  history.replaceState(
    null,
    '',
    `${location.pathname}${location.search}#${routePart}${rest === '' ? '' : `?${rest}`}`,
  );
}

/** Shows what went wrong, or clears it (`undefined`); a missing or bad token asks for one. */
function report(error) {
  if (error === undefined) {
    problem.hidden = true;
    problem.textContent = '';
    return;
  }
  if (error.status === 401) {
    tokenForm.hidden = false;
    problem.hidden = false;
    problem.textContent =
      storedToken() === undefined
        ? 'This service needs a token.'
        : 'The token was not accepted. Enter another.';
    return;
  }
  problem.hidden = false;
  problem.textContent = `${error.message ?? String(error)}${error.hint === undefined ? '' : ` (${error.hint})`}`;
}

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  storeToken(tokenInput.value.trim());
  tokenInput.value = '';
  tokenForm.hidden = true;
  route();
});

forgetButton.addEventListener('click', () => {
  forgetToken();
  route();
});

window.addEventListener('hashchange', route);
route();
