// The lineage graph of the event catalog, drawn as SVG: producers (client ids) on the left,
// event types (per topic) in the middle, consumers (groups, streams) on the right, with an edge
// from each producer to each type it sent and from each type to each consumer of its topic.
//
//   HeraldLineage.draw(container, catalog)   // catalog: the JSON of GET /catalog
//
// Types are ordered by topic; producers and consumers by the mean position of the types they
// touch, which keeps most edges from crossing. Every node carries data-kind and data-id so
// tests (and people) can find them.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const ROW = 46, BOX_H = 34, BOX_W = 250, TOP = 30;

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  }

  function cut(s, n) {
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }

  // Nodes and edges from the catalog.
  function build(catalog) {
    const producers = new Map(), types = [], consumers = new Map(), edges = [];
    for (const t of catalog.topics || []) {
      const first = types.length;
      for (const ty of t.types) {
        const node = { key: `type:${t.topic}/${ty.type}`, label: ty.type,
                       sub: `${t.topic} · ${ty.records} record${ty.records === 1 ? "" : "s"}`, kind: "type", id: ty.type,
                       topic: t.topic, idx: types.length };
        types.push(node);
        for (const p of ty.producers) {
          const key = `producer:${p.client_id}`;
          if (!producers.has(key)) {
            producers.set(key, { key, label: p.client_id, sub: "producer", kind: "producer",
                                 id: p.client_id, touches: [] });
          }
          const pn = producers.get(key);
          pn.touches.push(node.idx);
          edges.push([key, node.key]);
        }
      }
      for (const c of t.consumers) {
        const key = `consumer:${c.kind}:${c.id}`;
        if (!consumers.has(key)) {
          const sub = c.kind === "group" ? `group · lag ${c.lag}` :
            c.kind === "subscription" ? `subscription · backlog ${c.backlog}` +
              (c.dead_lettered ? ` · ${c.dead_lettered} dead` : "") :
            `${c.protocol} stream · ${c.open} open`;
          consumers.set(key, { key, label: c.id, sub, kind: "consumer", id: c.id, touches: [] });
        }
        const cn = consumers.get(key);
        for (let i = first; i < types.length; i++) {
          cn.touches.push(i);
          edges.push([types[i].key, key]);
        }
      }
    }
    const mean = (n) => n.touches.length ?
      n.touches.reduce((a, b) => a + b, 0) / n.touches.length : 1e9;
    const byMean = (a, b) => mean(a) - mean(b) || a.label.localeCompare(b.label);
    return { producers: [...producers.values()].sort(byMean), types,
             consumers: [...consumers.values()].sort(byMean), edges };
  }

  function draw(container, catalog) {
    container.textContent = "";
    const g = build(catalog);
    if (!g.types.length) {
      const p = document.createElement("div");
      p.className = "empty";
      p.textContent = "No event types seen yet: produce to a topic and they appear here.";
      container.appendChild(p);
      return;
    }
    const rows = Math.max(g.producers.length, g.types.length, g.consumers.length);
    const W = 1100, H = TOP + rows * ROW + 10;
    const cols = [20, (W - BOX_W) / 2, W - BOX_W - 20];
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "lineage", role: "img",
                            "aria-label": "lineage graph" }, container);
    [["PRODUCERS", 0], ["EVENT TYPES", 1], ["CONSUMERS", 2]].forEach(([name, c]) => {
      const t = el("text", { x: cols[c], y: 16, class: "col" }, svg);
      t.textContent = name;
    });
    const pos = new Map();
    const place = (nodes, c) => {
      // Centre a shorter column against the tallest one.
      const off = ((rows - nodes.length) * ROW) / 2;
      nodes.forEach((n, i) => pos.set(n.key, { x: cols[c], y: TOP + off + i * ROW, n }));
    };
    place(g.producers, 0);
    place(g.types, 1);
    place(g.consumers, 2);
    const edgeLayer = el("g", {}, svg);
    for (const [a, b] of g.edges) {
      const p = pos.get(a), q = pos.get(b);
      if (!p || !q) continue;
      const x1 = p.x + BOX_W, y1 = p.y + BOX_H / 2, x2 = q.x, y2 = q.y + BOX_H / 2;
      const mx = (x1 + x2) / 2;
      el("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, class: "edge",
                   "data-from": a, "data-to": b }, edgeLayer);
    }
    for (const { x, y, n } of pos.values()) {
      const grp = el("g", { class: `node ${n.kind}`, "data-kind": n.kind, "data-id": n.id,
                            transform: `translate(${x},${y})` }, svg);
      const title = el("title", {}, grp);
      title.textContent = `${n.label}\n${n.sub}`;
      el("rect", { width: BOX_W, height: BOX_H, rx: 6 }, grp);
      const t = el("text", { x: 10, y: 14 }, grp);
      t.textContent = cut(n.label, 36);
      const s = el("text", { x: 10, y: 28, class: "sub" }, grp);
      s.textContent = cut(n.sub, 42);
    }
  }

  window.HeraldLineage = { draw, build };
})();
