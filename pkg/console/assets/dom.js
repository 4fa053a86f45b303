// DOM helpers. Every text from the API goes through textContent, never
// innerHTML: a journey name or an event property cannot inject markup.

// h builds an element: h('a', {href: '#/x', class: 'y'}, 'text', child).
// Attributes starting with "on" are event listeners.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// svg builds an SVG element.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

export const num = (n) => (n === undefined || n === null) ? '–' : Number(n).toLocaleString('en');

// when formats an RFC 3339 time for people, in the browser's time zone.
export function when(t) {
  if (!t) return '–';
  const d = new Date(t);
  if (isNaN(d)) return t;
  return d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// status shows a short message in the page's live region, for screen
// readers and for everyone.
export function status(msg) {
  const el = document.getElementById('status');
  el.textContent = msg;
  clearTimeout(status.t);
  status.t = setTimeout(() => { el.textContent = ''; }, 6000);
}

// alertBox is a region for an error message, announced when filled.
export function alertBox() { return h('div', { class: 'alert', role: 'alert', hidden: true }); }
export function showAlert(box, msg) {
  box.textContent = msg || '';
  box.hidden = !msg;
}

// confirm asks in a modal dialog, with optional extra fields; it resolves
// to true on OK. The dialog traps focus and Escape cancels it.
export function confirm(title, text, extra) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const box = clear(document.getElementById('confirm-extra'));
  if (extra) box.append(extra);
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
    const first = box.querySelector('input') || document.getElementById('confirm-ok');
    first.focus();
  });
}
