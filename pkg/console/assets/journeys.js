// The journeys page: every journey with its status, channels and counts,
// sortable, and the actions the token's role allows.
import { get, post, enc, ApiError } from './api.js';
import { h, clear, num, when, status, alertBox, showAlert, confirm } from './dom.js';

// columns of the list; value gives the sort key.
const columns = [
  { key: 'name', label: 'Journey', value: (j) => (j.name || j.id).toLowerCase() },
  { key: 'status', label: 'Status', value: (j) => j.status },
  { key: 'channel', label: 'Channel', value: (j) => (j.channels || []).join(', ') },
  { key: 'entered', label: 'Entered', num: true, value: (j) => j.counts?.entered ?? -1 },
  { key: 'sent', label: 'Sent', num: true, value: (j) => j.counts?.sent ?? -1 },
  { key: 'opened', label: 'Opened', num: true, value: (j) => j.counts?.opened ?? -1 },
  { key: 'replied', label: 'Replied', num: true, value: (j) => j.counts?.replied ?? -1 },
  { key: 'converted', label: 'Converted', num: true, value: (j) => j.counts?.converted ?? -1 },
  { key: 'updated', label: 'Last update', value: (j) => j.publishedAt || '' },
];

// actionsFor lists what can be done to a journey in its status, as the
// API's state machine allows; none for a read token.
export function actionsFor(me, j) {
  if (!me || me.role !== 'write') return [];
  const a = [];
  if (j.draftVersion) a.push('publish');
  if (j.status === 'live' || j.status === 'has-errors') a.push('pause');
  if (j.status === 'paused') a.push('resume');
  a.push('clone');
  if (j.status !== 'archived' && j.status !== 'draft') a.push('archive');
  return a;
}

const wording = {
  publish: (j) => ['Publish the draft', `Publish draft version ${j.draftVersion} of "${j.name || j.id}"? Engines start running it at once: new entries follow it.`],
  pause: (j) => ['Pause', `Pause "${j.name || j.id}"? No one new enters, and its sends wait as its policy says until it is resumed.`],
  resume: (j) => ['Resume', `Resume "${j.name || j.id}"?`],
  archive: (j) => ['Archive', `Archive "${j.name || j.id}"? Its running instances end (exit reason "journey archived"), and it cannot be resumed.`],
  clone: (j) => ['Clone', `Copy "${j.name || j.id}" as the draft of a new journey.`],
};

// runAction confirms and performs an action, and returns the journey ID
// to show afterwards (the clone's), or null when cancelled or failed.
export async function runAction(action, j, errBox) {
  const [title, text] = wording[action](j);
  let extra = null;
  let input = null;
  if (action === 'clone') {
    input = h('input', { id: 'clone-id', name: 'clone-id', required: true, pattern: '[a-z0-9][a-z0-9-]*', value: j.id + '-copy', spellcheck: 'false' });
    extra = h('p', {}, h('label', { for: 'clone-id' }, 'New journey ID (lowercase letters, digits and dashes)'), input);
  }
  if (!await confirm(title, text, extra)) return null;
  showAlert(errBox, '');
  try {
    if (action === 'clone') {
      const v = await post(`/v1/journeys/${enc(j.id)}/clone`, JSON.stringify({ id: input.value.trim() }));
      status(`Cloned "${j.id}" as the draft of "${v.journeyId}".`);
      return v.journeyId;
    }
    await post(`/v1/journeys/${enc(j.id)}/${action}`);
    status(`${title}: done for "${j.id}".`);
    return j.id;
  } catch (err) {
    const msg = err instanceof ApiError ? err.describe() : String(err);
    const fields = (err.fields || []).map((f) => `${f.path || '(definition)'}: ${f.reason}`).join('; ');
    showAlert(errBox, `${title} failed for "${j.id}". ${msg}${fields ? ' ' + fields : ''}`);
    return null;
  }
}

// actionButtons renders the allowed actions of j; done runs after one
// succeeds.
export function actionButtons(me, j, errBox, done) {
  return actionsFor(me, j).map((a) => h('button', {
    type: 'button', class: 'small', 'data-action': a, 'data-journey': j.id,
    'aria-label': `${wording[a](j)[0]} ${j.name || j.id}`,
    onclick: async () => { const id = await runAction(a, j, errBox); if (id) done(id, a); },
  }, wording[a](j)[0]));
}

export function statusBadge(s) { return h('span', { class: `badge s-${s}` }, s); }

export function journeysView(ctx) {
  const errBox = alertBox();
  const body = h('tbody');
  const sort = { key: 'name', dir: 1 };
  let journeys = [];
  let shown = '';
  const heads = columns.map((c) => {
    const th = h('th', { scope: 'col', class: c.num ? 'num' : '', 'aria-sort': c.key === sort.key ? 'ascending' : 'none' },
      h('button', { type: 'button', class: 'sort', onclick: () => { sort.dir = sort.key === c.key ? -sort.dir : 1; sort.key = c.key; render(true); } }, c.label));
    c.th = th;
    return th;
  });
  const table = h('table', { class: 'list', id: 'journeys' },
    h('caption', {}, 'Journeys, with counts across all their versions (updated every 5 s). Column headings sort.'),
    h('thead', {}, h('tr', {}, heads, h('th', { scope: 'col' }, 'Actions'))), body);

  function row(j) {
    const c = j.counts;
    const count = (k) => h('td', { class: 'num', 'data-count': k }, c ? num(c[k]) : '–');
    return h('tr', { 'data-journey': j.id },
      h('th', { scope: 'row' }, h('a', { href: `#/journeys/${enc(j.id)}` }, j.name || j.id), h('div', { class: 'muted small' }, j.id)),
      h('td', {}, statusBadge(j.status)),
      h('td', {}, (j.channels || []).join(', ') || '–'),
      count('entered'), count('sent'), count('opened'), count('replied'), count('converted'),
      h('td', {}, when(j.publishedAt)),
      h('td', { class: 'actions' }, actionButtons(ctx.me, j, errBox, (id, a) => { if (a === 'clone') location.hash = `#/journeys/${enc(id)}`; else load(); })));
  }

  function render(force) {
    const col = columns.find((c) => c.key === sort.key);
    journeys.sort((a, b) => {
      const x = col.value(a), y = col.value(b);
      return (x < y ? -1 : x > y ? 1 : 0) * sort.dir || a.id.localeCompare(b.id);
    });
    for (const c of columns) c.th.setAttribute('aria-sort', c.key !== sort.key ? 'none' : sort.dir > 0 ? 'ascending' : 'descending');
    const key = JSON.stringify(journeys);
    if (!force && key === shown) return;
    shown = key;
    // Keep keyboard focus where it was across a refresh.
    const f = document.activeElement;
    const focusKey = f && f.dataset ? [f.dataset.journey, f.dataset.action] : null;
    clear(body).append(...journeys.map(row));
    if (journeys.length === 0) body.append(h('tr', {}, h('td', { colspan: columns.length + 1 }, 'No journeys yet: create one with beckon journeys create FILE --api.')));
    if (focusKey && focusKey[0]) {
      const again = body.querySelector(`[data-journey="${CSS.escape(focusKey[0])}"][data-action="${CSS.escape(focusKey[1] || '')}"]`);
      if (again) again.focus();
    }
  }

  async function load() {
    try {
      const r = await get('/v1/journeys');
      journeys = r.journeys;
      render(false);
      if (errBox.dataset.loadError) { showAlert(errBox, ''); delete errBox.dataset.loadError; }
    } catch (err) {
      showAlert(errBox, `Could not list journeys. ${err.describe ? err.describe() : err}`);
      errBox.dataset.loadError = '1';
    }
  }
  load();
  ctx.poller.every(5000, load);
  document.title = 'Journeys · Beckon';
  return h('section', { 'aria-labelledby': 'journeys-title' },
    h('h1', { id: 'journeys-title' }, 'Journeys'),
    ctx.me.role === 'write' ? null : h('p', { class: 'muted' }, 'Your token has the read role: actions are not offered.'),
    errBox, h('div', { class: 'scroll' }, table));
}
