// Mizzen's service graph: polls /api/graph, draws it as SVG, shows a node's details on click.
// Plain DOM and SVG: no build step, no dependency. Text from the mesh only ever goes into
// textContent, never into markup.
const SVG = 'http://www.w3.org/2000/svg';
const graphEl = document.getElementById('graph');
const details = document.getElementById('details');
const statusEl = document.getElementById('status');
const windowEl = document.getElementById('window');
const idleEl = document.getElementById('idle');
const nsEl = document.getElementById('namespaces');
const state = { graph: undefined, selected: undefined, hidden: new Set(), namespaces: new Set() };

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function html(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmt = (n, digits = 1) => (n >= 100 ? n.toFixed(0) : n.toFixed(digits));
const pct = (f) => `${f >= 0.1 || f === 0 ? (f * 100).toFixed(0) : (f * 100).toFixed(1)}%`;
const ms = (v) => (v === undefined ? '–' : `${fmt(v)}`);
function bytes(n) {
  if (n >= 1e6) return `${fmt(n / 1e6)} MB`;
  if (n >= 1e3) return `${fmt(n / 1e3)} kB`;
  return `${fmt(n, 0)} B`;
}

function lockIcon(x, y, partial) {
  const g = el('g', { class: 'lock', transform: `translate(${x - 5},${y - 16})` });
  g.appendChild(el('path', { d: 'M2.5 6 V4 a2.5 2.5 0 0 1 5 0 V6', fill: 'none', stroke: '#39424f', 'stroke-width': 1.4 }));
  g.appendChild(el('rect', { x: 0.5, y: 5.5, width: 9, height: 7, rx: 1, fill: partial ? '#fff' : '#39424f', stroke: '#39424f' }));
  return g;
}

function nodeShape(n) {
  if (n.kind === 'service') return el('polygon', { points: '0,-20 19,14 -19,14', class: 'shape service' });
  if (n.kind === 'unknown') return el('polygon', { points: '0,-19 19,0 0,19 -19,0', class: 'shape unknown' });
  return el('circle', { r: 18, class: 'shape workload' });
}

function visible(graph) {
  const nodes = graph.nodes.filter((n) => !state.hidden.has(n.namespace) && (idleEl.checked || n.health !== 'idle'));
  const ids = new Set(nodes.map((n) => n.id));
  return { nodes, edges: graph.edges.filter((e) => ids.has(e.source) && ids.has(e.target)) };
}

function edgeLabel(e) {
  if (e.protocol === 'tcp') return [`${bytes((e.tcpSent ?? 0) + (e.tcpReceived ?? 0))}/s`];
  const first = `${fmt(e.rate)} rps${e.share !== undefined ? ` · ${pct(e.share)}` : ''}`;
  const second = `${e.errorRate > 0 ? `${pct(e.errorRate)} err · ` : ''}p50 ${ms(e.p50)} · p99 ${ms(e.p99)}`;
  return [first, second];
}

function render() {
  const graph = state.graph;
  if (!graph) return;
  const { nodes, edges } = visible(graph);
  const pos = new Map(nodes.map((n) => [n.id, n]));
  graphEl.replaceChildren();
  const defs = el('defs');
  for (const h of ['healthy', 'degraded', 'failure', 'tcp']) {
    const m = el('marker', { id: `arrow-${h}`, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    m.appendChild(el('path', { d: 'M0,0 L10,5 L0,10 z', fill: { healthy: '#3e8635', degraded: '#e08a00', failure: '#c9190b', tcp: '#2b7bb9' }[h] }));
    defs.appendChild(m);
  }
  graphEl.appendChild(defs);
  const maxX = Math.max(400, ...nodes.map((n) => n.x + 160));
  const maxY = Math.max(300, ...nodes.map((n) => n.y + 80));
  graphEl.setAttribute('viewBox', `0 0 ${maxX} ${maxY}`);
  for (const e of edges) {
    const a = pos.get(e.source);
    const b = pos.get(e.target);
    const cls = e.protocol === 'tcp' ? 'tcp' : e.health;
    const g = el('g', {
      class: `edge ${cls}`,
      'data-source': e.source,
      'data-target': e.target,
      'data-protocol': e.protocol,
      'data-health': e.health,
      'data-rate': e.rate.toFixed(3),
      'data-error-rate': e.errorRate.toFixed(4),
      'data-mtls': e.mtls === undefined ? 'unknown' : e.mtls >= 0.999 ? 'full' : e.mtls > 0 ? 'partial' : 'none',
      ...(e.share !== undefined ? { 'data-share': e.share.toFixed(3) } : {}),
    });
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const [x1, y1, x2, y2] = [a.x + (dx / len) * 22, a.y + (dy / len) * 22, b.x - (dx / len) * 24, b.y - (dy / len) * 24];
    const bend = e.protocol === 'tcp' ? 18 : 0;
    const mx = (x1 + x2) / 2 - (dy / len) * bend;
    const my = (y1 + y2) / 2 + (dx / len) * bend;
    g.appendChild(el('path', { d: `M${x1},${y1} Q${mx},${my} ${x2},${y2}`, 'marker-end': `url(#arrow-${cls})` }));
    const lines = edgeLabel(e);
    lines.forEach((t, i) => g.appendChild(el('text', { x: mx, y: my + 12 + i * 11, 'text-anchor': 'middle', class: i === 1 && e.errorRate > 0 ? 'err' : '' }, t)));
    if (e.mtls !== undefined && e.mtls > 0) g.appendChild(lockIcon(mx, my, e.mtls < 0.999));
    const title = el('title', {}, `${e.source} → ${e.target} (${e.protocol})${e.mtls !== undefined ? `, mTLS ${pct(e.mtls)}` : ''}`);
    g.appendChild(title);
    graphEl.appendChild(g);
  }
  for (const n of nodes) {
    const g = el('g', { class: `node ${n.health}${state.selected === n.id ? ' selected' : ''}`, transform: `translate(${n.x},${n.y})`, 'data-id': n.id, 'data-kind': n.kind, 'data-health': n.health, tabindex: 0 });
    g.appendChild(nodeShape(n));
    g.appendChild(el('text', { y: 34 }, n.kind === 'workload' && n.app && n.version ? `${n.app} ${n.version}` : n.name));
    g.appendChild(el('text', { y: 46, class: 'sub' }, n.kind === 'workload' ? `${n.name} · ${n.namespace}` : n.namespace || 'external'));
    g.addEventListener('click', () => select(n.id));
    graphEl.appendChild(g);
  }
}

function renderNamespaces(graph) {
  const all = [...new Set(graph.nodes.map((n) => n.namespace).filter(Boolean))].sort();
  if (all.join() === [...state.namespaces].join()) return;
  state.namespaces = new Set(all);
  nsEl.replaceChildren(html('span', 'namespaces:', { class: 'muted' }));
  for (const ns of all) {
    const label = html('label');
    const box = html('input', undefined, { type: 'checkbox', 'data-namespace': ns });
    box.checked = !state.hidden.has(ns);
    box.addEventListener('change', () => {
      if (box.checked) state.hidden.delete(ns);
      else state.hidden.add(ns);
      render();
    });
    label.append(box, ` ${ns}`);
    nsEl.appendChild(label);
  }
}

function table(headers, rows) {
  const t = html('table');
  const head = html('tr');
  for (const h of headers) head.appendChild(html('th', h));
  t.appendChild(head);
  for (const r of rows) {
    const tr = html('tr');
    for (const c of r) {
      const td = html('td');
      if (c instanceof Node) td.appendChild(c);
      else td.textContent = c;
      tr.appendChild(td);
    }
    t.appendChild(tr);
  }
  return t;
}

function trafficRows(edges, other) {
  return edges.map((e) => [
    e[other],
    e.protocol,
    e.protocol === 'tcp' ? `${bytes((e.tcpSent ?? 0) + (e.tcpReceived ?? 0))}/s` : `${fmt(e.rate, 2)} rps`,
    e.protocol === 'tcp' ? '–' : pct(e.errorRate),
    ms(e.p50),
    ms(e.p99),
    e.mtls === undefined ? '?' : pct(e.mtls),
  ]);
}

async function showDetails(id) {
  const r = await fetch(`/api/node?id=${encodeURIComponent(id)}&window=${windowEl.value}`);
  if (state.selected !== id) return;
  if (!r.ok) {
    details.replaceChildren(html('p', `${id}: no longer in the graph`));
    return;
  }
  const d = await r.json();
  const n = d.node;
  const parts = [html('h2', n.kind === 'workload' ? `workload ${n.name}` : n.kind === 'service' ? `service ${n.name}` : 'callers without a proxy')];
  parts.push(html('div', `${n.namespace ? `namespace ${n.namespace} · ` : ''}${n.health}${n.inboundRate > 0 ? ` · ${fmt(n.inboundRate, 2)} rps in, ${pct(n.inboundErrorRate)} errors` : ''}`, { class: `health-${n.health}` }));
  if (d.traces) {
    const p = html('p');
    p.appendChild(html('a', 'traces in Zipkin', { href: d.traces, target: '_blank', id: 'trace-link' }));
    parts.push(p);
  }
  const cols = ['', 'proto', 'rate', 'errors', 'P50 ms', 'P99 ms', 'mTLS'];
  parts.push(html('h3', 'inbound'), table(['from', ...cols.slice(1)], trafficRows(d.inbound, 'source')));
  parts.push(html('h3', 'outbound'), table(['to', ...cols.slice(1)], trafficRows(d.outbound, 'target')));
  parts.push(html('h3', 'Istio config that applies'));
  if (d.config.length === 0) parts.push(html('p', 'none', { class: 'muted' }));
  for (const c of d.config) {
    const det = html('details', undefined, { class: 'config', 'data-kind': c.kind, 'data-name': `${c.namespace}/${c.name}` });
    det.appendChild(html('summary', `${c.kind} ${c.namespace}/${c.name} — ${c.why}`));
    det.appendChild(html('pre', JSON.stringify(c.spec, null, 2)));
    parts.push(det);
  }
  if (n.kind === 'workload') {
    parts.push(html('h3', 'proxy status (proxy-status)'));
    if (d.proxies.length === 0) parts.push(html('p', 'no proxy connected to discovery', { class: 'muted' }));
    else parts.push(table(['proxy', 'CDS', 'LDS', 'EDS', 'RDS', 'version'], d.proxies.map((p) => [p.name, p.status.cds ?? 'NOT SENT', p.status.lds ?? 'NOT SENT', p.status.eds ?? 'NOT SENT', p.status.rds ?? 'NOT SENT', p.istioVersion])));
  }
  const open = new Set([...details.querySelectorAll('details[open]')].map((e) => e.getAttribute('data-name')));
  details.replaceChildren(...parts);
  for (const e of details.querySelectorAll('details')) if (open.has(e.getAttribute('data-name'))) e.open = true;
  details.hidden = false;
}

function select(id) {
  state.selected = state.selected === id ? undefined : id;
  details.hidden = state.selected === undefined;
  render();
  if (state.selected) void showDetails(state.selected);
}

async function poll() {
  try {
    const r = await fetch(`/api/graph?window=${windowEl.value}`);
    const g = await r.json();
    state.graph = g;
    document.getElementById('mesh').textContent = `mesh ${g.mesh}`;
    const failed = Object.keys(g.scrape.failures).length;
    statusEl.textContent = `updated ${new Date(g.generatedAt).toLocaleTimeString()} · ${g.scrape.targets - failed}/${g.scrape.targets} proxies scraped`;
    renderNamespaces(g);
    render();
    if (state.selected) await showDetails(state.selected);
    document.body.setAttribute('data-updated', g.generatedAt);
  } catch (err) {
    statusEl.textContent = `cannot reach the mesh: ${err.message}`;
  }
  setTimeout(poll, 2000);
}

windowEl.addEventListener('change', render);
idleEl.addEventListener('change', render);
void poll();
