// A journey's page: its status and actions, the flowchart with live
// counts per step and hourly sparklines, its validation errors, its
// versions, and the draft editor with validation as you type and a
// Simulate button.
import { get, put, post, call, enc, ApiError } from './api.js';
import { h, svg, clear, num, when, status, alertBox, showAlert } from './dom.js';
import { actionButtons, statusBadge } from './journeys.js';
import { render as renderFlow, graph, kindOf, describe, countLine, seriesMeasure, TRIGGER } from './flowchart.js';
import { entriesList } from './user.js';
import { schemaHelp } from './schema.js';

const HOURS = 24;

export function journeyView(ctx, id) {
  const errBox = alertBox();
  const head = h('div', { id: 'journey-head' });
  const problems = h('div', { id: 'journey-errors' });
  const flow = h('div', { class: 'scroll flow-wrap', id: 'flowchart' });
  const stepTable = h('div', { id: 'step-table' });
  const versions = h('div', { id: 'versions' });
  const editor = h('div', { id: 'editor' });
  let journey = null;
  let def = null; // the parsed definition drawn
  let shownVersion = 0;

  async function loadJourney() {
    try {
      journey = await get(`/v1/journeys/${enc(id)}`);
      showAlert(errBox, '');
    } catch (err) {
      showAlert(errBox, `Could not read journey ${id}. ${err.describe ? err.describe() : err}`);
      return;
    }
    document.title = `${journey.name || id} · Beckon`;
    clear(head).append(
      h('h1', {}, journey.name || id, ' ', statusBadge(journey.status)),
      h('p', { class: 'muted' }, `${id} · ${journey.currentVersion ? `running version ${journey.currentVersion}` : 'never published'}`,
        journey.draftVersion ? ` · draft version ${journey.draftVersion}` : '', ` · channels ${(journey.channels || []).join(', ') || 'none'}`),
      h('div', { class: 'actions' }, actionButtons(ctx.me, journey, errBox, (nid) => {
        if (nid !== id) location.hash = `#/journeys/${enc(nid)}`; else { loadJourney(); loadVersions(); }
      })));
    clear(problems);
    if (journey.errors?.length) {
      problems.append(h('div', { class: 'alert', role: 'alert' }, h('h2', {}, 'This version does not validate'), fieldList(journey.errors)));
    }
    const v = journey.currentVersion || journey.draftVersion || journey.latestVersion;
    if (v !== shownVersion) {
      shownVersion = v;
      const ver = await get(`/v1/journeys/${enc(id)}/versions/${v}`).catch(() => null);
      def = ver?.parsed || null;
      if (!editor.firstChild) {
        // Edit the draft when there is one, else start from what runs.
        const src = journey.draftVersion && journey.draftVersion !== v
          ? await get(`/v1/journeys/${enc(id)}/versions/${journey.draftVersion}`).catch(() => ver) : ver;
        editor.append(editorPanel(ctx, id, journey, src));
      }
      await loadMetrics();
    }
  }

  async function loadMetrics() {
    if (!def) {
      clear(flow).append(h('p', { class: 'muted' }, 'The definition does not parse, so it cannot be drawn.'));
      return;
    }
    const counts = {};
    const series = {};
    let report = null;
    try {
      report = await get(`/v1/journeys/${enc(id)}/metrics`);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) status(`Counts unavailable: ${err.describe ? err.describe() : err}`);
    }
    if (report) {
      counts[TRIGGER] = report.totals;
      for (const s of report.steps) counts[s.step] = s.counts;
      // The last HOURS hours that have counts, ending at the newest; dev
      // runs journey time faster than the clock, so "now" is not the end.
      const g = graph(def);
      const first = def.steps?.[0]?.id;
      const hours = report.hourly.map((x) => x.hour);
      const end = hours.length ? Date.parse(hours[hours.length - 1]) : Date.now();
      const start = end - (HOURS - 1) * 3600e3;
      const q = `from=${new Date(start).toISOString().replace(/\.\d+Z$/, 'Z')}&to=${new Date(end + 3600e3).toISOString().replace(/\.\d+Z$/, 'Z')}`;
      const bucket = (hourly, measure) => {
        const out = new Array(HOURS).fill(0);
        for (const x of hourly) {
          const i = Math.round((Date.parse(x.hour) - start) / 3600e3);
          if (i < 0 || i >= HOURS) continue;
          const v = x.counts[measure];
          out[i] += typeof v === 'object' ? Object.values(v).reduce((a, b) => a + b, 0) : v;
        }
        return out;
      };
      series[TRIGGER] = bucket(report.hourly, 'entered');
      await Promise.all(g.nodes.filter((n) => n.step).map(async (n) => {
        const r = await get(`/v1/journeys/${enc(id)}/metrics?step=${enc(n.id)}&${q}`).catch(() => null);
        if (r) series[n.id] = bucket(r.hourly, seriesMeasure(n, first));
      }));
    }
    const focused = document.activeElement?.dataset?.step;
    clear(flow).append(renderFlow(def, counts, series));
    if (focused) flow.querySelector(`[data-step="${CSS.escape(focused)}"]`)?.focus();
    clear(stepTable).append(stepsTable(def, counts));
  }

  async function loadVersions() {
    try {
      const r = await get(`/v1/journeys/${enc(id)}/versions`);
      clear(versions).append(h('table', { class: 'list' },
        h('caption', {}, 'Versions'),
        h('thead', {}, h('tr', {}, ['Version', 'State', 'Published', 'By', 'Valid'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, r.versions.slice().reverse().map((v) => h('tr', {},
          h('th', { scope: 'row' }, `v${v.version}`), h('td', {}, statusBadge(v.state)), h('td', {}, when(v.publishedAt)), h('td', {}, v.publishedBy || '–'),
          h('td', {}, v.valid ? 'yes' : h('span', {}, 'no: ', (v.errors || []).map((f) => `${f.path || '(definition)'}: ${f.reason}`).join('; ')))))))); 
    } catch (err) {
      clear(versions).append(h('p', { class: 'alert', role: 'alert' }, `Could not list versions. ${err.describe ? err.describe() : err}`));
    }
  }

  loadJourney();
  loadVersions();
  ctx.poller.every(5000, async () => { await loadJourney(); await loadMetrics(); });
  return h('section', { 'aria-labelledby': 'journey-title' },
    h('span', { id: 'journey-title', class: 'visually-hidden' }, `Journey ${id}`),
    errBox, head, problems,
    h('div', { class: 'journey-grid' },
      h('div', {},
        h('h2', {}, 'Flowchart'),
        h('p', { class: 'muted small' }, 'Counts are all time, across versions; each sparkline is the step\'s hourly flow over the last 24 hours with counts. Updated every 5 s.'),
        flow, h('details', {}, h('summary', {}, 'Steps and counts as a table'), stepTable),
        h('h2', {}, 'History'), versions),
      h('div', {}, h('h2', {}, 'Draft'), editor)));
}

// fieldList shows validation problems: field path, line and reason. With
// an editor, a problem with a line is a button that puts the cursor there.
export function fieldList(fields, area) {
  return h('ul', { class: 'fields' }, fields.map((f) => h('li', { 'data-path': f.path || '' },
    h('code', {}, f.path || '(definition)'),
    f.line ? (area ? h('button', { type: 'button', class: 'link', onclick: () => goTo(area, f.line, f.column), 'aria-label': `Go to line ${f.line}` }, ` line ${f.line}${f.column ? ', column ' + f.column : ''}`)
      : h('span', { class: 'muted' }, ` line ${f.line}${f.column ? ', column ' + f.column : ''}`)) : null,
    ': ', f.reason)));
}

// goTo puts the editor's cursor at a line and column (1-based).
function goTo(area, line, column) {
  const lines = area.value.split('\n');
  let at = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
  at += Math.max(0, (column || 1) - 1);
  area.focus();
  area.setSelectionRange(at, at);
  const lh = parseFloat(getComputedStyle(area).lineHeight) || 18;
  area.scrollTop = Math.max(0, (line - 5) * lh);
  area.dispatchEvent(new Event('cursor'));
}

function stepsTable(def, counts) {
  const g = graph(def);
  return h('table', { class: 'list' }, h('caption', {}, 'Steps'),
    h('thead', {}, h('tr', {}, ['Step', 'Kind', 'What', 'Counts'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, g.nodes.filter((n) => n.kind !== 'end').map((n) => h('tr', {},
      h('th', { scope: 'row' }, n.step ? n.id : 'trigger'), h('td', {}, n.step ? kindOf(n.step) : 'trigger'),
      h('td', {}, describe(n).filter(Boolean).join('; ')),
      h('td', {}, countLine(n, counts[n.step ? n.id : TRIGGER]) || '–')))));
}

const DEBOUNCE = 400;

// editorPanel edits the journey's draft: the draft's text, or the running
// version's to start one; validated by the API as you type.
function editorPanel(ctx, id, journey, ver) {
  const write = ctx.me.role === 'write';
  const area = h('textarea', { id: 'definition', name: 'definition', rows: 24, cols: 80, spellcheck: 'false', autocapitalize: 'off', 'aria-describedby': 'validation' });
  area.value = ver?.definition || '';
  const result = h('div', { id: 'validation', 'aria-live': 'polite' });
  const help = h('div', { id: 'schema-help', class: 'help' });
  const errBox = alertBox();
  const simOut = h('div', { id: 'simulation' });
  const from = h('input', { id: 'sim-from', name: 'from', value: '168h', size: 10, required: true });
  const users = h('input', { id: 'sim-users', name: 'users', type: 'number', min: 1, size: 6 });
  let seq = 0;
  let timer = null;

  async function validate() {
    const mine = ++seq;
    try {
      const v = await post('/v1/journeys/validate', area.value, 'application/yaml');
      if (mine !== seq) return; // a newer edit is being checked
      clear(result).append(v.valid
        ? h('p', { class: 'ok' }, `Valid: ${v.steps} step(s).`)
        : h('div', { class: 'invalid' }, h('p', {}, `${v.errors.length} problem(s):`), fieldList(v.errors, area)));
    } catch (err) {
      if (mine !== seq) return;
      clear(result).append(h('div', { class: 'invalid' }, h('p', {}, err.describe ? err.describe() : String(err)), err.fields?.length ? fieldList(err.fields) : null));
    }
  }
  area.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(validate, DEBOUNCE);
    schemaHelp(area, help);
  });
  for (const ev of ['click', 'keyup', 'cursor']) area.addEventListener(ev, () => schemaHelp(area, help));

  async function save() {
    showAlert(errBox, '');
    try {
      const v = await put(`/v1/journeys/${enc(id)}/draft`, area.value, 'application/yaml');
      status(`Saved as draft version ${v.version}.`);
    } catch (err) {
      showAlert(errBox, `Saving the draft failed. ${err.describe ? err.describe() : err} ${(err.fields || []).map((f) => `${f.path}: ${f.reason}`).join('; ')}`);
    }
  }

  async function simulate() {
    showAlert(errBox, '');
    clear(simOut).append(h('p', { class: 'muted' }, 'Simulating on past events…'));
    const q = new URLSearchParams({ from: from.value.trim() });
    if (users.value) q.set('users', users.value);
    try {
      const rep = await call('POST', `/v1/simulations?${q}`, { body: area.value, contentType: 'application/yaml' });
      clear(simOut).append(simulationReport(rep));
    } catch (err) {
      let msg = err.describe ? err.describe() : String(err);
      if (err.status === 429) msg = 'Another simulation is running on this API instance; try again in a moment.';
      if (err.status === 504) msg = 'The simulation took longer than the API allows (--simulation-timeout); try a shorter window or fewer users.';
      if (err.status === 404 || err.status === 405) msg = 'This API does not serve simulations (POST /v1/simulations).';
      clear(simOut).append(h('div', { class: 'alert', role: 'alert' }, `Simulation failed. ${msg}`, err.fields?.length ? fieldList(err.fields) : null));
    }
  }

  if (area.value) setTimeout(validate, 0);
  return h('div', {},
    h('p', { class: 'muted small' }, ver ? `Starting from version ${ver.version} (${ver.state}).` : '', ' Checked by the API as you type, with the same field paths as beckon journeys validate.'),
    h('label', { for: 'definition' }, 'Definition (YAML)'), area, result, help,
    h('div', { class: 'buttons' },
      write ? h('button', { type: 'button', id: 'save-draft', onclick: save }, 'Save draft') : null,
      h('span', { class: 'inline' }, h('label', { for: 'sim-from' }, 'Simulate from'), from, h('label', { for: 'sim-users' }, 'users'), users),
      h('button', { type: 'button', id: 'simulate', class: 'primary', onclick: simulate }, 'Simulate')),
    errBox, simOut);
}

// simulationReport renders pkg/simulate.Report (docs/simulation.md).
export function simulationReport(r) {
  const counts = (title, list) => h('div', {}, h('h4', {}, title), list.length
    ? h('table', { class: 'list compact' }, h('tbody', {}, list.map((c) => h('tr', {}, h('th', { scope: 'row' }, c.reason), h('td', { class: 'num' }, num(c.count))))))
    : h('p', { class: 'muted' }, 'none'));
  return h('section', { class: 'report', 'aria-labelledby': 'report-title', id: 'simulation-report' },
    h('h3', { id: 'report-title' }, `Simulation of ${r.journeyId} v${r.version}`),
    h('p', { class: 'muted' }, `${when(r.from)} to ${when(r.to)}: ${num(r.input.events)} events and ${num(r.input.receipts)} receipts of ${num(r.input.users)} users on ${r.input.partitions} partitions, ${num(r.input.timers)} timers, in ${num(r.elapsedMillis)} ms.`,
      r.input.truncated ? ` Cut short (${r.input.truncated}).` : '', r.input.undecodable ? ` ${r.input.undecodable} undecodable records skipped.` : ''),
    h('dl', { class: 'tiles' },
      ...[['Entered', r.entered], ['Users', r.enteredUsers], ['Sent', r.sends.reduce((a, s) => a + s.count, 0)], ['Converted', r.converted], ['Still active', r.active]]
        .flatMap(([k, v]) => [h('div', {}, h('dt', {}, k), h('dd', {}, num(v)))])),
    h('div', {}, h('h4', {}, 'Sends'), r.sends.length
        ? h('table', { class: 'list compact', id: 'sim-sends' }, h('thead', {}, h('tr', {}, ['Step', 'Channel', 'Template', 'Sends'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, r.sends.map((s) => h('tr', {}, h('th', { scope: 'row' }, s.step), h('td', {}, s.channel), h('td', {}, s.template || '–'), h('td', { class: 'num' }, num(s.count))))))
        : h('p', { class: 'muted' }, 'none')),
    h('div', { class: 'columns' },
      counts('Exited by reason', r.exited), counts('Skipped by reason', r.skipped), counts('Held first', r.held), counts('Errors', r.errors)),
    h('h4', {}, `Sends by hour of day (${r.sendTimes.timeZone})`),
    hourBars(r.sendTimes.byHour),
    h('h4', {}, 'Time from entry to send'),
    h('p', {}, r.sendTimes.sinceEntry.filter((b) => b.count).map((b) => `${b.upTo ? 'up to ' + b.upTo : 'longer'}: ${num(b.count)}`).join(' · ') || 'no sends'),
    r.samples.length ? h('div', {}, h('h4', {}, 'Sample instances'), r.samples.map((s) => h('details', { class: 'sample' },
      h('summary', {}, `${s.user_id}: ${s.status}${s.exit_reason ? ' (' + s.exit_reason + ')' : ''}, ${(s.entries || []).length} entries`), entriesList(s.entries)))) : null);
}

// hourBars draws 24 counts by hour of the day as an SVG bar chart.
function hourBars(byHour) {
  const max = Math.max(1, ...byHour), bw = 18, ch = 64;
  return svg('svg', { width: 24 * bw + 4, height: ch + 16, class: 'bars', role: 'img', 'aria-label': `Sends by hour of the day: ${byHour.map((n, i) => `${i}h ${n}`).join(', ')}` },
    ...byHour.map((n, i) => {
      const bh = Math.round((n / max) * ch);
      return svg('g', {}, svg('title', {}, `${String(i).padStart(2, '0')}:00 ${n} sends`),
        svg('rect', { x: i * bw + 2, y: ch - bh, width: bw - 4, height: Math.max(bh, 1), class: n ? 'bar' : 'bar zero' }),
        i % 3 === 0 ? svg('text', { x: i * bw + bw / 2, y: ch + 13, 'text-anchor': 'middle', class: 'tick' }, String(i)) : null);
    }));
}
