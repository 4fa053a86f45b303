// The console's shell: signing in, the routes (#/journeys, #/journeys/ID,
// #/users, #/users/ID, #/instances/REF), and live updates that pause
// while the tab is hidden.
import { get, token, setToken, clearToken, whenUnauthorized, ApiError, Poller } from './api.js';
import { h, clear, alertBox, showAlert } from './dom.js';
import { journeysView } from './journeys.js';
import { journeyView } from './journey.js';
import { userView, instanceView } from './user.js';

const main = document.getElementById('main');
// ctx is what every view gets: who is signed in, the console's settings,
// and the poller of the current page (stopped when the page changes).
const ctx = { me: null, config: { traceUrl: '' }, poller: null };
let signInReason = '';

whenUnauthorized((err) => {
  clearToken();
  ctx.me = null;
  signInReason = err.describe();
  // On the sign-in screen already, its own message says why.
  if (document.getElementById('token')) return;
  location.hash = '#/login';
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && ctx.poller) ctx.poller.resume();
});
document.getElementById('signout').addEventListener('click', () => {
  clearToken();
  ctx.me = null;
  signInReason = 'Signed out.';
  location.hash = '#/login';
});

function showWho() {
  const who = document.getElementById('who');
  who.textContent = ctx.me ? `${ctx.me.name} (${ctx.me.role})` : '';
  document.getElementById('signout').hidden = !ctx.me;
  document.getElementById('nav').hidden = !ctx.me;
}

function loginView() {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', size: 60 });
  const err = alertBox();
  const form = h('form', { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in to Beckon'),
    h('p', {}, 'Paste an API bearer token. ', h('code', {}, 'beckon dev'), ' prints one at start; in a deployment, ask for one from the API\'s tokens file. It is kept in this tab only.'),
    h('label', { for: 'token' }, 'API token'),
    input,
    err,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
  if (signInReason) showAlert(err, signInReason);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    try {
      ctx.me = await get('/v1/me');
      signInReason = '';
      showWho();
      // Back to the page asked for (a link opened before signing in).
      const next = location.hash && location.hash !== '#/login' ? location.hash : '#/journeys';
      if (location.hash === next) route(); else location.hash = next;
    } catch (ex) {
      clearToken();
      showAlert(err, ex instanceof ApiError ? ex.describe() : String(ex));
      input.focus();
    }
  });
  setTimeout(() => input.focus(), 0);
  return form;
}

async function route() {
  if (ctx.poller) ctx.poller.stop();
  ctx.poller = new Poller();
  const path = location.hash.replace(/^#/, '') || '/journeys';
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  clear(main);
  if (!token() || parts[0] === 'login') {
    ctx.me = null;
    showWho();
    main.append(loginView());
    document.title = 'Sign in · Beckon';
    return;
  }
  if (!ctx.me) {
    try {
      ctx.me = await get('/v1/me');
    } catch (err) {
      if (err.status !== 401) main.append(h('p', { class: 'alert', role: 'alert' }, err.describe ? err.describe() : String(err)));
      return;
    }
  }
  showWho();
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === parts[0]) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  let view;
  switch (parts[0]) {
    case 'journeys': view = parts[1] ? journeyView(ctx, parts[1]) : journeysView(ctx); break;
    case 'users': view = userView(ctx, parts[1] || ''); break;
    case 'instances': view = instanceView(ctx, parts[1] || ''); break;
    default: view = h('p', {}, 'No such page. ', h('a', { href: '#/journeys' }, 'Journeys'));
  }
  main.append(view);
  main.focus({ preventScroll: true });
}

async function boot() {
  try {
    const r = await fetch('/console/config.json', { cache: 'no-store' });
    if (r.ok) ctx.config = await r.json();
  } catch { /* the console works without a trace link */ }
  window.addEventListener('hashchange', route);
  route();
}

boot();
