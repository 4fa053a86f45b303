// The user page (every instance of every journey for one user) and an
// instance's timeline: each step with its time, what happened and why,
// the send commands with their payloads, receipts, the hand-off, and a
// link to the instance's trace.
import { get, enc } from './api.js';
import { h, clear, when, alertBox, showAlert } from './dom.js';
import { statusBadge } from './journeys.js';

export function userView(ctx, userId) {
  const input = h('input', { id: 'user-id', name: 'user', type: 'search', value: userId, required: true, spellcheck: 'false', autocomplete: 'off', size: 30 });
  const form = h('form', { class: 'search', role: 'search' },
    h('label', { for: 'user-id' }, 'User ID'), input,
    h('button', { type: 'submit', class: 'primary' }, 'Show instances'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/users/${enc(input.value.trim())}`;
  });
  const errBox = alertBox();
  const out = h('div', { id: 'user-instances' });
  document.title = userId ? `${userId} · Beckon` : 'Users · Beckon';
  const section = h('section', { 'aria-labelledby': 'user-title' },
    h('h1', { id: 'user-title' }, userId ? `User ${userId}` : 'Find a user'),
    form, errBox, out);
  if (!userId) {
    setTimeout(() => input.focus(), 0);
    return section;
  }
  let shown = '';
  async function load() {
    let r;
    try {
      r = await get(`/v1/users/${enc(userId)}/instances`);
      showAlert(errBox, '');
    } catch (err) {
      showAlert(errBox, `Could not read ${userId}'s instances. ${err.describe ? err.describe() : err}`);
      return;
    }
    const key = JSON.stringify(r);
    if (key === shown) return;
    shown = key;
    clear(out);
    const list = r.instances || [];
    out.append(h('p', { class: 'muted' }, `Partition ${r.partition}. ${list.length} instance(s), most recently active first (updated every 5 s).`));
    if (list.length) {
      out.append(h('table', { class: 'list', id: 'instances' },
        h('caption', {}, `Instances of ${userId}`),
        h('thead', {}, h('tr', {}, ['Journey', 'Status', 'Step', 'Entry key', 'Entered', 'Last activity', 'Timeline'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, list.map((i) => h('tr', { 'data-instance': i.id },
          h('th', { scope: 'row' }, h('a', { href: `#/journeys/${enc(i.journey_id)}` }, i.journey_id), h('span', { class: 'muted small' }, ` v${i.journey_version}`)),
          h('td', {}, statusBadge(i.status), i.exit_reason ? h('div', { class: 'small' }, i.exit_reason) : null),
          h('td', {}, i.step || '–'),
          h('td', {}, i.entry_key || '–'),
          h('td', {}, when(i.entered_at)),
          h('td', {}, when(i.last_at)),
          h('td', {}, h('a', { href: `#/instances/${enc(i.id)}`, 'aria-label': `Timeline of ${i.journey_id} instance ${i.instance_id}` }, 'Timeline')))))));
    } else {
      out.append(h('p', {}, 'No instances kept for this user (never entered a journey, forgotten, or past the timeline retention).'));
    }
    const skipped = r.not_entered || [];
    if (skipped.length) {
      out.append(h('h2', {}, 'Not entered'),
        h('ul', { class: 'plain' }, skipped.map((a) => h('li', {},
          h('time', { datetime: a.at }, when(a.at)), ' ', h('strong', {}, a.journey_id), ` ${a.kind}: ${a.reason}`, a.input ? ` (${inputText(a.input)})` : ''))));
    }
  }
  load();
  ctx.poller.every(5000, load);
  return section;
}

// inputText says what the engine was processing.
export function inputText(i) {
  if (!i) return '';
  switch (i.type) {
    case 'event': return `event "${i.name}"${i.message_id ? ' ' + i.message_id : ''}`;
    case 'timer': return 'a timer';
    case 'receipt': return `receipt ${i.receipt_id || ''}`.trim();
  }
  return i.type || '';
}

// explain says what an entry means in a sentence.
function explain(e) {
  const on = e.input ? ` on ${inputText(e.input)}` : '';
  switch (e.kind) {
    case 'entered': return `Entered at step ${e.step} (${e.reason})${on}.`;
    case 'waiting': return /reset/.test(e.reason || '') ? `Hold ${e.reason}${e.details?.resets ? ` (reset ${e.details.resets} time(s))` : ''}; now waits until ${when(e.details?.until)}.`
      : `Waiting at ${e.step}: ${e.reason}${e.details?.until ? `, until ${when(e.details.until)}` : ''}.`;
    case 'step_completed': return `Step ${e.step} done: ${e.reason}${on}.`;
    case 'sent': return `Sent ${e.reason}${on}.`;
    case 'skipped': return `Send skipped at ${e.step}: ${e.reason}${on}.`;
    case 'exited': return `Exited at ${e.step}: ${e.reason}${on}.`;
    case 'converted': return `Converted: ${e.reason}${on}.`;
    case 'error': return `Error at ${e.step}: ${e.reason}${on}.`;
    case 'receipt': return `Receipt: ${e.receipt?.status || ''}${e.receipt?.reply_text ? ` "${e.receipt.reply_text}"` : ''}${e.receipt?.reason ? ` (${e.receipt.reason})` : ''}.`;
  }
  return `${e.kind} at ${e.step}: ${e.reason || ''}${on}.`;
}

const json = (v) => JSON.stringify(v, null, 2);

// entriesList renders timeline entries, oldest first; shared by the
// instance page and the simulation report's sample timelines.
export function entriesList(entries) {
  return h('ol', { class: 'timeline' }, (entries || []).map((e) => {
    const reset = e.kind === 'waiting' && /reset/.test(e.reason || '');
    // The engine records a hand-off as its step completing.
    const handoff = e.kind === 'step_completed' && /^handed off/.test(e.reason || '');
    const kind = reset ? 'reset' : handoff ? 'handoff' : e.kind;
    return h('li', { class: `entry k-${e.kind}${reset ? ' reset' : ''}${handoff ? ' handoff' : ''}`, 'data-kind': kind },
      h('div', { class: 'when' }, h('time', { datetime: e.at }, when(e.at))),
      h('div', { class: 'what' },
        h('span', { class: `badge k-${e.kind}` }, reset ? 'hold reset' : handoff ? 'hand-off' : e.kind.replace('_', ' ')),
        e.step ? h('span', { class: 'step' }, e.step) : null,
        h('p', {}, explain(e)),
        e.send ? h('div', { class: 'send' },
          h('p', {}, h('strong', {}, 'Send command '), `${e.send.command_id}: ${e.send.channel} template ${e.send.template}`,
            e.send.recipient ? ` to ${e.send.recipient}` : '', e.send.deadline ? `, deadline ${when(e.send.deadline)}` : ''),
          h('details', {}, h('summary', {}, 'Payload'), h('pre', { tabindex: 0 }, json(e.send.payload)))) : null,
        e.receipt ? h('details', {}, h('summary', {}, 'Receipt'), h('pre', { tabindex: 0 }, json(e.receipt))) : null,
        handoff ? h('p', { class: 'small muted' }, 'The conversation that led here is the sends and receipts (with reply texts) above; the agent receives it on the handoff topic.') : null,
        e.details && Object.keys(e.details).length ? h('details', {}, h('summary', {}, handoff ? 'Hand-off (channel, queue)' : 'Details'), h('pre', { tabindex: 0 }, json(e.details))) : null));
  }));
}

export function traceLink(ctx, traceId) {
  if (!traceId) return h('span', { class: 'muted' }, 'no trace (tracing off)');
  if (!ctx.config.traceUrl) return h('code', {}, traceId);
  const url = ctx.config.traceUrl.replaceAll('{traceId}', enc(traceId));
  return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', id: 'trace-link' }, `Trace ${traceId}`);
}

export function instanceView(ctx, ref) {
  const errBox = alertBox();
  const head = h('div', { id: 'instance-head' });
  const body = h('div', { id: 'instance-entries' });
  let shown = '';
  let active = true;
  async function load() {
    if (!active) return;
    let t;
    try {
      t = await get(`/v1/instances/${enc(ref)}`);
      showAlert(errBox, '');
    } catch (err) {
      showAlert(errBox, `Could not read the timeline. ${err.describe ? err.describe() : err}`);
      return;
    }
    const key = JSON.stringify(t);
    if (key === shown) return;
    shown = key;
    active = t.status === 'active';
    document.title = `${t.journey_id} for ${t.user_id} · Beckon`;
    clear(head).append(
      h('h1', {}, `${t.journey_id} for `, h('a', { href: `#/users/${enc(t.user_id)}` }, t.user_id)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Status'), h('dd', {}, statusBadge(t.status), t.exit_reason ? ` ${t.exit_reason}` : '', active ? ' (updated every 3 s)' : ''),
        h('dt', {}, 'Journey'), h('dd', {}, h('a', { href: `#/journeys/${enc(t.journey_id)}` }, t.journey_id), ` version ${t.journey_version}`),
        h('dt', {}, 'Instance'), h('dd', {}, h('code', {}, t.instance_id), t.entry_key ? ` entry key ${t.entry_key}` : ''),
        h('dt', {}, 'Entered'), h('dd', {}, when(t.entered_at)),
        h('dt', {}, 'Last activity'), h('dd', {}, when(t.last_at)),
        h('dt', {}, 'Trace'), h('dd', {}, traceLink(ctx, t.trace_id))),
      ...(t.truncated ? [h('p', { class: 'muted' }, 'Older entries were dropped by the timeline retention.')] : []));
    clear(body).append(h('h2', {}, 'Timeline'), entriesList(t.entries));
  }
  load();
  ctx.poller.every(3000, load);
  return h('section', { 'aria-labelledby': 'instance-title' }, h('span', { id: 'instance-title', class: 'visually-hidden' }, 'Instance timeline'), errBox, head, body);
}
