// Schema help for the editor: from schemas/journey.schema.json, the
// fields allowed where the cursor is (with their descriptions), the
// required ones missing there, and the keys the schema does not allow.
// It reads block-style YAML by indentation, which is how definitions are
// written; anything it cannot place is left to the API's validation,
// which is authoritative.

let schema = null;
let loading = null;

function load() {
  loading ||= fetch('/console/journey.schema.json').then((r) => r.ok ? r.json() : null).then((s) => { schema = s; }).catch(() => {});
  return loading;
}

function deref(s) {
  while (s && s.$ref) s = s.$ref.split('/').slice(1).reduce((o, k) => o[k], schema);
  return s;
}

const keyRe = /^(\s*)(-\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*:/;
const itemRe = /^(\s*)-(\s|$)/;

// pathAt returns the keys (and "[]" for list items) leading to the
// mapping the line at index i belongs to, and that mapping's indent.
export function pathAt(lines, i) {
  const indentOf = (l) => {
    const m = keyRe.exec(l);
    if (m) return m[1].length + (m[2] ? m[2].length : 0);
    const it = itemRe.exec(l);
    return it ? it[1].length + 2 : (l.trim() ? l.length - l.trimStart().length : Infinity);
  };
  let want = indentOf(lines[i] ?? '');
  if (want === Infinity) {
    for (let j = i - 1; j >= 0; j--) if (lines[j].trim() && !lines[j].trim().startsWith('#')) { want = indentOf(lines[j]); break; }
  }
  const own = want;
  const path = [];
  for (let j = i; j >= 0 && want > 0; j--) {
    const l = lines[j];
    if (!l.trim() || l.trim().startsWith('#')) continue;
    const m = keyRe.exec(l);
    const it = itemRe.exec(l);
    if (it && it[1].length < want) {
      // a list item encloses the line; its key, if any, is a sibling
      path.unshift('[]');
      want = it[1].length;
      continue;
    }
    if (m && !m[2] && m[1].length < want) {
      path.unshift(m[3]);
      want = m[1].length;
    }
  }
  return { path, indent: own };
}

// nodeAt is the schema of the mapping at path, or null.
export function nodeAt(path) {
  let s = deref(schema);
  for (const p of path) {
    if (!s) return null;
    s = deref(p === '[]' ? s.items : s.properties?.[p]);
  }
  return s && s.type === 'object' ? s : null;
}

// siblingKeys are the keys of the mapping around line i at indent.
function siblingKeys(lines, i, indent) {
  const keys = [];
  const at = (l) => { const m = keyRe.exec(l); return m ? { k: m[3], ind: m[1].length + (m[2] ? m[2].length : 0), item: !!m[2] } : null; };
  let start = i;
  for (let j = i; j >= 0; j--) {
    const l = lines[j];
    if (!l.trim() || l.trim().startsWith('#')) continue;
    const m = at(l);
    const ind = m ? m.ind : l.length - l.trimStart().length;
    if (ind < indent) break;
    start = j;
    if (m && m.item && m.ind === indent) break;
  }
  for (let j = start; j < lines.length; j++) {
    const l = lines[j];
    if (!l.trim() || l.trim().startsWith('#')) continue;
    const m = at(l);
    const ind = m ? m.ind : l.length - l.trimStart().length;
    if (ind < indent || (j > start && m && m.item && m.ind === indent)) break;
    if (m && m.ind === indent) keys.push({ key: m.k, line: j + 1 });
  }
  return keys;
}

export async function schemaHelp(area, out) {
  await load();
  if (!schema) return;
  const before = area.value.slice(0, area.selectionStart);
  const lines = area.value.split('\n');
  const i = before.split('\n').length - 1;
  const { path, indent } = pathAt(lines, i);
  const node = nodeAt(path);
  out.replaceChildren();
  if (!node || !node.properties) return;
  const where = path.length ? path.join('.').replaceAll('.[]', '[]') : 'the journey';
  const present = siblingKeys(lines, i, indent);
  const unknown = node.additionalProperties === false ? present.filter((p) => !(p.key in node.properties)) : [];
  const missing = (node.required || []).filter((r) => !present.some((p) => p.key === r));
  const h2 = document.createElement('p');
  h2.className = 'small';
  h2.textContent = `Fields of ${where} (from journey.schema.json):`;
  const dl = document.createElement('dl');
  dl.className = 'fieldhelp';
  for (const [k, v] of Object.entries(node.properties)) {
    const dt = document.createElement('dt');
    dt.textContent = k + ((node.required || []).includes(k) ? ' (required)' : '');
    const dd = document.createElement('dd');
    dd.textContent = deref(v)?.description || v.description || '';
    dl.append(dt, dd);
  }
  out.append(h2);
  if (unknown.length || missing.length) {
    const warn = document.createElement('p');
    warn.className = 'invalid small';
    warn.setAttribute('data-schema', 'problem');
    warn.textContent = [
      ...unknown.map((u) => `line ${u.line}: ${u.key} is not a field of ${where}`),
      ...missing.map((m) => `${where}: ${m} is required`)].join('; ');
    out.append(warn);
  }
  const det = document.createElement('details');
  const sum = document.createElement('summary');
  sum.textContent = `${Object.keys(node.properties).length} fields`;
  det.append(sum, dl);
  out.append(det);
}
