// The journey flowchart: the steps of a parsed definition as a graph
// (trigger, steps, the end), laid out in layers by the longest path from
// the trigger, drawn as SVG with each step's live counts and an hourly
// sparkline. No layout library: journeys are small (tens of steps).
import { svg, num } from './dom.js';

const EXIT = '__exit';
const TRIGGER = '__trigger';
const W = 250, H = 100, GAPX = 36, GAPY = 56, PAD = 24;
// LANE is the room on each side for edges that skip layers (left) and
// loops back (right).
const LANE = 70;

// graph returns the nodes and edges of a definition (the JSON of
// schemas/journey.schema.json).
export function graph(def) {
  const steps = def.steps || [];
  const index = new Map(steps.map((s, i) => [s.id, i]));
  const nodes = [{ id: TRIGGER, kind: 'trigger', index: -1, def }];
  steps.forEach((s, i) => nodes.push({ id: s.id, kind: kindOf(s), index: i, step: s }));
  const edges = new Map();
  const to = (target) => (!target || target === 'exit' || !index.has(target)) ? EXIT : target;
  const add = (from, target, label) => {
    const t = to(target);
    const k = from + '\u0000' + t;
    const e = edges.get(k);
    if (e) { if (label && !e.labels.includes(label)) e.labels.push(label); return; }
    edges.set(k, { from, to: t, labels: label ? [label] : [] });
  };
  if (steps.length) add(TRIGGER, steps[0].id, '');
  steps.forEach((s, i) => {
    const dflt = s.next || (steps[i + 1] ? steps[i + 1].id : 'exit');
    if (s.exit) return; // an exit step ends the instance
    if (s.hold) {
      if (s.hold.event) add(s.id, s.hold.on_event || dflt, s.hold.event);
      add(s.id, s.hold.on_timeout || dflt, `after ${s.hold.timeout}`);
    } else if (s.branch) {
      for (const c of s.branch.cases || []) add(s.id, c.next, short(c.when, 28));
      add(s.id, s.branch.else || dflt, 'else');
    } else if (s.split) {
      for (const p of s.split.paths || []) add(s.id, p.next, `${p.name} ${p.weight}%`);
      if (s.split.holdout) add(s.id, 'exit', `holdout ${s.split.holdout}%`);
    } else if (s.wait_receipt) {
      for (const [st, next] of Object.entries(s.wait_receipt.on || {})) add(s.id, next, st);
      for (const c of s.wait_receipt.replies || []) add(s.id, c.next, 'reply ' + short(c.when, 20));
      add(s.id, s.wait_receipt.on_timeout || dflt, `after ${s.wait_receipt.timeout}`);
    } else {
      add(s.id, dflt, '');
    }
  });
  const list = [...edges.values()];
  if (list.some((e) => e.to === EXIT) || steps.some((s) => s.exit)) nodes.push({ id: EXIT, kind: 'end', index: steps.length });
  return { nodes, edges: list };
}

export function kindOf(s) {
  for (const k of ['hold', 'delay', 'branch', 'split', 'send', 'wait_receipt', 'handoff', 'exit']) if (s[k]) return k;
  return 'step';
}

const short = (s, n) => (!s ? '' : s.length > n ? s.slice(0, n - 1) + '…' : s);

// describe is what a node says of its step, in one or two lines.
export function describe(n) {
  const s = n.step;
  switch (n.kind) {
    case 'trigger': {
      const t = n.def.trigger || {};
      return [`on ${t.event}`, t.key ? `one per ${t.key.replace(/^event\.properties\./, '')}` : (t.when ? `when ${t.when}` : '')];
    }
    case 'hold': return [`${s.hold.event ? 'for ' + s.hold.event + ', ' : ''}timeout ${s.hold.timeout}`,
      s.hold.reset_on?.length ? `reset by ${s.hold.reset_on.join(', ')}` : ''];
    case 'delay': return [`wait ${[s.delay.for, s.delay.at_time && 'until ' + s.delay.at_time, s.delay.until && 'until ' + s.delay.until].filter(Boolean).join(' then ')}`, ''];
    case 'branch': return [`${(s.branch.cases || []).length} case(s), else ${s.branch.else || 'next'}`, ''];
    case 'split': return [`${(s.split.paths || []).length} paths${s.split.holdout ? `, ${s.split.holdout}% held out` : ''}`, ''];
    case 'send': return [`${s.send.channel}: ${s.send.template}`, s.send.lookups?.length ? `lookups ${s.send.lookups.map((l) => l.table).join(', ')}` : ''];
    case 'wait_receipt': return [`receipt of ${s.wait_receipt.of}, ${s.wait_receipt.timeout}`, ''];
    case 'handoff': return [`to an agent${s.handoff.queue ? ' in ' + s.handoff.queue : ''}`, s.handoff.channel || ''];
    case 'exit': return [s.exit.reason ? `reason: ${s.exit.reason}` : 'ends the instance', ''];
    case 'end': return ['instance ends', ''];
  }
  return ['', ''];
}

const kindLabel = { trigger: 'Trigger', hold: 'Hold', delay: 'Delay', branch: 'Branch', split: 'Split', send: 'Send', wait_receipt: 'Wait for receipt', handoff: 'Hand-off', exit: 'Exit', end: 'End', step: 'Step' };

// layout places nodes in layers: a node's layer is one below the deepest
// node with a forward edge to it (an edge to an earlier step is a loop,
// drawn around the side).
export function layout(g) {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  for (const n of g.nodes) n.layer = 0;
  const ordered = [...g.nodes].sort((a, b) => a.index - b.index);
  for (const n of ordered) {
    for (const e of g.edges) {
      if (e.from !== n.id) continue;
      const t = byId.get(e.to);
      if (t && t.index > n.index) t.layer = Math.max(t.layer, n.layer + 1);
    }
  }
  const layers = [];
  for (const n of ordered) (layers[n.layer] ||= []).push(n);
  const widest = Math.max(...layers.map((l) => l.length));
  const width = PAD * 2 + widest * W + (widest - 1) * GAPX + 2 * LANE;
  layers.forEach((l, y) => {
    const span = l.length * W + (l.length - 1) * GAPX;
    const x0 = (width - span) / 2;
    l.forEach((n, i) => { n.x = x0 + i * (W + GAPX); n.y = PAD + y * (H + GAPY); });
  });
  return { width, height: PAD * 2 + layers.length * H + (layers.length - 1) * GAPY, byId };
}

// stepCounts picks what a node shows of its step's counts.
export function countLine(n, c) {
  if (!c) return '';
  const total = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);
  const parts = [];
  if (n.kind === 'trigger') return `${num(c.entered)} entered · ${num(c.active)} active · ${num(c.converted)} converted`;
  if (c.entered) parts.push(`${num(c.entered)} entered`);
  parts.push(`${num(c.active)} here`);
  if (n.kind === 'send') parts.push(`${num(c.sent)} sent`, `${num(c.opened)} opened`, `${num(c.replied)} replied`);
  if (total(c.skipped)) parts.push(`${num(total(c.skipped))} skipped`);
  if (total(c.exited)) parts.push(`${num(total(c.exited))} exited`);
  if (c.converted) parts.push(`${num(c.converted)} converted`);
  if (c.errors) parts.push(`${num(c.errors)} errors`);
  return parts.join(' · ');
}

// seriesMeasure is the hourly flow a node's sparkline shows.
export function seriesMeasure(n, first) {
  if (n.kind === 'send') return 'sent';
  if (n.kind === 'trigger' || n.id === first) return 'entered';
  return 'exited';
}

// sparkline draws values (oldest first) in a w x h box.
export function sparkline(values, w, h, label) {
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(h - 1 - (v / max) * (h - 2)).toFixed(1)}`).join(' ');
  return svg('g', { class: 'spark' },
    svg('title', {}, label),
    svg('rect', { width: w, height: h, class: 'spark-bg' }),
    values.length ? svg('polyline', { points: pts }) : null);
}

// render draws the flowchart. counts maps a step ID (TRIGGER for the
// journey's totals) to its counts; series maps it to hourly values.
export function render(def, counts = {}, series = {}) {
  const g = graph(def);
  const { width, height, byId } = layout(g);
  const first = def.steps?.[0]?.id;
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': `Flowchart of ${def.name || def.id}: ${g.nodes.length} nodes`, class: 'flow' });
  root.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  const edgeLayer = svg('g', { class: 'edges' });
  const labelLayer = svg('g', { class: 'edge-labels' });
  let loop = 0, skip = 0;
  const minX = Math.min(...g.nodes.map((n) => n.x));
  const maxX = Math.max(...g.nodes.map((n) => n.x + W));
  for (const e of g.edges) {
    const a = byId.get(e.from), b = byId.get(e.to);
    if (!a || !b) continue;
    let d, lx, ly, room = 34;
    if (b.index > a.index && b.layer - a.layer === 1) {
      const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
      const my = (y1 + y2) / 2;
      d = `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2 - 2}`;
      lx = (x1 + x2) / 2; ly = my;
    } else if (b.index > a.index) {
      // Skips layers: down the left lane, clear of the nodes between.
      skip += 1;
      // It enters the target from above, through the gap over its
      // layer, so it crosses no node on the way.
      const x = minX - 24 - (skip % 3) * 16, y1 = a.y + H / 2, gy = b.y - GAPY / 2 + (skip % 3) * 6, x2 = b.x + W / 2;
      d = `M${a.x},${y1} C${x},${y1} ${x},${y1} ${x},${y1 + 30} L${x},${gy - 20} C${x},${gy} ${x},${gy} ${x + 20},${gy} L${x2 - 20},${gy} C${x2},${gy} ${x2},${gy} ${x2},${b.y - 2}`;
      lx = x; ly = a.y + H + GAPY / 2; room = 14;
    } else {
      // Back to an earlier step: up the right lane.
      loop += 1;
      const x = maxX + 24 + (loop % 3) * 16, y1 = a.y + H / 2, y2 = b.y + H / 2;
      d = `M${a.x + W},${y1} C${x},${y1} ${x},${y1} ${x},${y1 - 30} L${x},${y2 + 30} C${x},${y2} ${x},${y2} ${b.x + W + 2},${y2}`;
      lx = x; ly = (y1 + y2) / 2; room = 14;
    }
    edgeLayer.append(svg('path', { d, class: 'edge', 'marker-end': 'url(#arrow)' }));
    const text = e.labels.join(' / ');
    if (text) {
      const n = Math.min(text.length, room);
      labelLayer.append(svg('g', {}, svg('title', {}, text),
        svg('rect', { x: lx - n * 3.3 - 4, y: ly - 9, width: n * 6.6 + 8, height: 17, rx: 3, class: 'edge-label-bg' }),
        svg('text', { x: lx, y: ly + 4, class: 'edge-label', 'text-anchor': 'middle' }, short(text, room))));
    }
  }
  root.append(edgeLayer);
  const nodeLayer = svg('g', { class: 'nodes' });
  for (const n of g.nodes) {
    const key = n.kind === 'trigger' ? TRIGGER : n.id;
    const [d1, d2] = describe(n);
    const c = counts[key];
    const line = n.kind === 'end' ? '' : countLine(n, c);
    const el = svg('g', { class: `node k-${n.kind}`, transform: `translate(${n.x},${n.y})`, tabindex: 0, role: 'img', 'data-step': n.id,
      'aria-label': `${kindLabel[n.kind]} ${n.kind === 'trigger' || n.kind === 'end' ? '' : n.id}: ${d1} ${d2}. ${line}` },
    svg('title', {}, `${kindLabel[n.kind]} ${n.id === TRIGGER || n.id === EXIT ? '' : n.id}\n${d1}\n${d2}`.trim()),
    n.kind === 'end' ? svg('rect', { width: W, height: H / 2, rx: H / 4, class: 'box' }) : svg('rect', { width: W, height: H, rx: n.kind === 'trigger' ? 18 : 6, class: 'box' }),
    svg('text', { x: 10, y: 18, class: 'kind' }, kindLabel[n.kind].toUpperCase()),
    n.kind === 'trigger' || n.kind === 'end' ? null : svg('text', { x: W - 10, y: 18, class: 'sid', 'text-anchor': 'end' }, short(n.id, 22)),
    svg('text', { x: 10, y: 38, class: 'desc' }, short(d1, 36)),
    d2 ? svg('text', { x: 10, y: 54, class: 'desc2' }, short(d2, 40)) : null,
    line ? svg('text', { x: 10, y: 74, class: 'counts' }, short(line, 38)) : null);
    const values = series[key];
    if (values && n.kind !== 'end') {
      const m = seriesMeasure(n, first);
      const sp = sparkline(values, 96, 16, `${m} per hour, the last ${values.length} hours: ${values.join(', ')}`);
      sp.setAttribute('transform', `translate(10,${H - 21})`);
      el.append(sp, svg('text', { x: 112, y: H - 9, class: 'spark-label' }, `${m}/h, last ${values.length} h`));
    }
    nodeLayer.append(el);
  }
  root.append(nodeLayer, labelLayer);
  return root;
}

export { TRIGGER, EXIT };
