/** Where each node goes on the page (centre, in SVG user units). */
export interface NodePosition {
  x: number;
  y: number;
}

export interface LayoutOptions {
  columnWidth?: number;
  rowHeight?: number;
  /** Sort key inside a column before crossing reduction (e.g. namespace/name). */
  order?: (id: string) => string;
}

/**
 * A left-to-right layered layout (the idea of Sugiyama's method, as dagre does for Kiali):
 * callers to the left of what they call. Columns are longest paths from the nodes nothing calls
 * (edges that close a cycle are left out of the layering); inside a column, nodes are ordered by
 * the mean row of their neighbours, sweeping right then left a few times, which removes most
 * crossings on graphs the size of a mesh's namespaces.
 */
export function layoutGraph(nodeIds: readonly string[], edges: readonly { source: string; target: string }[], o: LayoutOptions = {}): Map<string, NodePosition> {
  const colW = o.columnWidth ?? 230;
  const rowH = o.rowHeight ?? 96;
  const order = o.order ?? ((id: string) => id);
  const ids = [...nodeIds].sort((a, b) => order(a).localeCompare(order(b)));
  const out = new Map<string, string[]>();
  const inc = new Map<string, string[]>();
  for (const id of ids) {
    out.set(id, []);
    inc.set(id, []);
  }
  for (const e of edges) {
    if (e.source === e.target || !out.has(e.source) || !out.has(e.target)) continue;
    out.get(e.source)!.push(e.target);
    inc.get(e.target)!.push(e.source);
  }
  // Acyclic subset: depth-first from every root (then from what is left), dropping back edges.
  const state = new Map<string, 1 | 2>();
  const forward = new Map<string, string[]>(ids.map((id) => [id, []]));
  const visit = (id: string): void => {
    state.set(id, 1);
    for (const t of out.get(id)!) {
      const s = state.get(t);
      if (s === 1) continue;
      forward.get(id)!.push(t);
      if (s === undefined) visit(t);
    }
    state.set(id, 2);
  };
  for (const id of ids) if (inc.get(id)!.length === 0 && !state.has(id)) visit(id);
  for (const id of ids) if (!state.has(id)) visit(id);
  // Longest-path columns over the acyclic edges (Kahn's order).
  const indeg = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const ts of forward.values()) for (const t of ts) indeg.set(t, indeg.get(t)! + 1);
  const col = new Map<string, number>(ids.map((id) => [id, 0]));
  const queue = ids.filter((id) => indeg.get(id) === 0);
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const t of forward.get(id)!) {
      col.set(t, Math.max(col.get(t)!, col.get(id)! + 1));
      indeg.set(t, indeg.get(t)! - 1);
      if (indeg.get(t) === 0) queue.push(t);
    }
  }
  // Isolated nodes (no edges at all) go to a column of their own on the left.
  const isolated = ids.filter((id) => out.get(id)!.length === 0 && inc.get(id)!.length === 0);
  const hasIsolated = isolated.length > 0 && isolated.length < ids.length;
  const columns: string[][] = [];
  for (const id of ids) {
    const c = hasIsolated ? (isolated.includes(id) ? 0 : col.get(id)! + 1) : col.get(id)!;
    (columns[c] ??= []).push(id);
  }
  const row = new Map<string, number>();
  const number = (): void => columns.forEach((c) => c?.forEach((id, i) => row.set(id, i)));
  number();
  const mean = (ns: string[]): number | undefined => (ns.length === 0 ? undefined : ns.reduce((s, n) => s + row.get(n)!, 0) / ns.length);
  for (let sweep = 0; sweep < 4; sweep++) {
    const cols = sweep % 2 === 0 ? columns.slice(1) : columns.slice(0, -1).reverse();
    for (const c of cols) {
      if (!c) continue;
      const key = new Map(c.map((id) => [id, mean(sweep % 2 === 0 ? inc.get(id)! : out.get(id)!) ?? row.get(id)!]));
      c.sort((a, b) => key.get(a)! - key.get(b)! || order(a).localeCompare(order(b)));
      c.forEach((id, i) => row.set(id, i));
    }
  }
  const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const pos = new Map<string, NodePosition>();
  columns.forEach((c, ci) => {
    if (!c) return;
    const offset = ((tallest - c.length) * rowH) / 2;
    c.forEach((id, i) => pos.set(id, { x: 90 + ci * colW, y: 60 + offset + i * rowH }));
  });
  return pos;
}
