// The Herald console: a single page over the broker's own JSON, with no dependencies.
//
// Pages (the part of the URL after '#'):
//   #/topics          topics with their throughput          GET /console/api/overview
//   #/groups          consumer groups with lag per partition  GET /console/api/overview
//   #/catalog         event types, lineage graph             GET /catalog
//   #/tail/<topic>    live tail of a topic                   SSE GET /topics/<topic>/events
//   #/charts          rates and lag over the last hour       GET /console/api/history
//   #/health          the architecture check's findings      GET /health/architecture
// A page's refresh() runs every REFRESH_MS while it is shown. Everything from the broker is
// inserted as text (never as HTML): topic names, types, client ids and samples come from
// clients.
"use strict";

(function () {
  const REFRESH_MS = 2000;
  const TAIL_MAX = 200;
  const CLIENT_ID = "herald-console";

  const view = document.getElementById("view");
  const nav = document.getElementById("nav");
  const conn = document.getElementById("conn");

  // ---- small helpers ----

  // h("td", {class: "num", dataset: {field: "lag"}}, "12") builds an element; children are
  // nodes or text.
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "dataset") Object.assign(e.dataset, v);
      else if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // Replaces el's children; null and false children are left out, arrays flattened.
  function fill(el, ...children) {
    el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  }

  const int = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
  const rate = (n) => (n === null || n === undefined ? "–" : (Math.round(n * 10) / 10).toLocaleString("en-US"));
  function bytes(n) {
    if (n === null || n === undefined) return "–";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + u[i];
  }
  function ago(iso) {
    if (!iso) return "–";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    return Math.round(s / 3600) + " h ago";
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json();
  }

  function connected(ok, why) {
    conn.dataset.state = ok ? "ok" : "error";
    conn.textContent = ok ? "connected" : `unreachable${why ? ": " + why : ""}`;
  }

  function table(head, rows, empty) {
    if (!rows.length) return h("div", { class: "empty" }, empty);
    return h("table", {},
      h("thead", {}, h("tr", {}, head.map(([t, cls]) => h("th", { class: cls }, t)))),
      h("tbody", {}, rows));
  }

  // ---- pages ----

  function topicsPage() {
    const root = h("div", {});
    return {
      root,
      async refresh() {
        const ov = await getJSON("/console/api/overview");
        const totalIn = ov.topics.reduce((a, t) => a + (t.in_rate || 0), 0);
        const totalOut = ov.topics.reduce((a, t) => a + (t.out_rate || 0), 0);
        const rows = ov.topics.map((t) => h("tr", { dataset: { topic: t.name } },
          h("td", {}, h("a", { href: `#/tail/${encodeURIComponent(t.name)}`, title: "live tail" }, t.name)),
          h("td", { class: "num", dataset: { field: "partitions" } }, t.partitions),
          h("td", { class: "num", dataset: { field: "records" } }, int(t.records)),
          h("td", { class: "num", dataset: { field: "records_in" } }, int(t.records_in)),
          h("td", { class: "num", dataset: { field: "records_out" } }, int(t.records_out)),
          h("td", { class: "num", dataset: { field: "in_rate" } }, rate(t.in_rate)),
          h("td", { class: "num", dataset: { field: "out_rate" } }, rate(t.out_rate)),
          h("td", { class: "num", dataset: { field: "size" } }, bytes(t.size_bytes))));
        fill(root,
          h("h2", {}, "Topics"),
          h("div", { class: "cards" },
            card(ov.topics.length, "topics", "topics"),
            card(ov.groups.length, "consumer groups", "groups"),
            card(rate(totalIn), "records/s in", "in_rate"),
            card(rate(totalOut), "records/s out", "out_rate")),
          h("div", { class: "panel" }, table(
            [["Topic"], ["Partitions", "num"], ["Records stored", "num"], ["Records in", "num"],
             ["Records out", "num"], ["In /s", "num"], ["Out /s", "num"], ["Size", "num"]],
            rows, "No topics yet.")),
          h("p", { class: "muted" },
            `Rates are averaged over the last sample (every ${ov.sample_interval_ms / 1000} s); ` +
            "records in and out count since the broker started."));
      },
    };
  }

  function card(v, k, field) {
    return h("div", { class: "card", dataset: { card: field } }, h("div", { class: "v" }, v),
             h("div", { class: "k" }, k));
  }

  function groupsPage() {
    const root = h("div", {});
    const open = new Set();
    const page = {
      root,
      async refresh() {
        const ov = await getJSON("/console/api/overview");
        const maxLag = Math.max(1, ...ov.groups.map((g) => g.lag));
        const rows = [];
        for (const g of ov.groups) {
          const state = g.state === "Stable" ? "ok" : g.state === "Empty" ? "" : "warn";
          const topics = [...new Set(g.partitions.map((p) => p.topic))];
          rows.push(h("tr", { dataset: { group: g.group } },
            h("td", {}, g.group),
            h("td", { dataset: { field: "state" } }, h("span", { class: `pill ${state}` }, g.state)),
            h("td", { dataset: { field: "members" } },
              g.members.length ? g.members.map((m) => h("span", { class: "pill", title: m.member_id }, m.client_id || m.member_id))
                : h("span", { class: "muted" }, "none")),
            h("td", { dataset: { field: "topics" } }, topics.join(", ")),
            h("td", { class: "num", dataset: { field: "lag" } }, int(g.lag)),
            h("td", {}, h("div", { class: "lag-bar" }, h("div", { style: `width:${(100 * g.lag) / maxLag}%` }))),
            h("td", {}, h("button", {
              onclick: () => {
                if (open.has(g.group)) open.delete(g.group);
                else open.add(g.group);
                page.refresh();
              },
            }, open.has(g.group) ? "hide" : "partitions"))));
          if (open.has(g.group)) {
            rows.push(h("tr", { dataset: { groupPartitions: g.group } }, h("td", { colspan: 7 },
              table([["Topic"], ["Partition", "num"], ["Committed", "num"], ["End", "num"], ["Lag", "num"]],
                g.partitions.map((p) => h("tr", { dataset: { topic: p.topic, partition: p.partition } },
                  h("td", {}, p.topic), h("td", { class: "num" }, p.partition),
                  h("td", { class: "num" }, int(p.committed)), h("td", { class: "num" }, int(p.end)),
                  h("td", { class: "num", dataset: { field: "lag" } }, int(p.lag)))),
                "No committed offsets."))));
          }
        }
        fill(root,
          h("h2", {}, "Consumer groups"),
          h("div", { class: "panel" }, table(
            [["Group"], ["State"], ["Members"], ["Topics"], ["Lag (records)", "num"], [""], [""]],
            rows, "No consumer groups yet.")),
          h("p", { class: "muted" },
            "Lag is the records between each committed offset and the partition's end."));
      },
    };
    return page;
  }

  function age(ms) {
    if (!ms) return "–";
    const s = Math.round(ms / 1000);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.round(s / 60) + " min";
    return Math.round(s / 3600) + " h";
  }

  // Subscriptions (queues on the log): backlog, leases, retries and dead letters, and a redrive
  // button that hands a subscription's dead letters back to it (POST .../redrive).
  function subscriptionsPage() {
    const root = h("div", {});
    const results = new Map(); // name -> what the last redrive answered
    async function redrive(name) {
      const r = await fetch(`/subscriptions/${encodeURIComponent(name)}/redrive`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      const body = await r.json();
      results.set(name, r.ok ? `redriven ${body.redriven}` + (body.missing ? `, ${body.missing} missing` : "")
        : `failed: ${body.detail || r.status}`);
      await page.refresh();
    }
    const page = {
      root,
      async refresh() {
        const ov = await getJSON("/console/api/overview");
        const subs = ov.subscriptions || [];
        const rows = subs.map((s) => h("tr", { dataset: { subscription: s.name } },
          h("td", {}, s.name),
          h("td", {}, h("a", { href: `#/tail/${encodeURIComponent(s.topic)}` }, s.topic)),
          h("td", { class: "num", dataset: { field: "backlog" } }, int(s.backlog)),
          h("td", { class: "num", dataset: { field: "in_flight" } }, int(s.in_flight)),
          h("td", { class: "num", dataset: { field: "scheduled" } }, int(s.scheduled)),
          h("td", { class: "num", dataset: { field: "dead_lettered" } },
            h("span", { class: s.dead_lettered ? "pill bad" : "pill" }, int(s.dead_lettered))),
          h("td", { class: "num", dataset: { field: "oldest" } }, age(s.oldest_unacked_ms)),
          h("td", {}, s.dead_letter_topic ?
            h("a", { href: `#/tail/${encodeURIComponent(s.dead_letter_topic)}` }, s.dead_letter_topic) :
            h("span", { class: "muted" }, "none")),
          h("td", {},
            h("button", { dataset: { action: "redrive" }, disabled: s.dead_lettered ? null : "",
                          onclick: () => redrive(s.name) }, "Redrive"),
            " ", h("span", { class: "muted", dataset: { field: "redrive_result" } }, results.get(s.name) || ""))));
        fill(root,
          h("h2", {}, "Subscriptions"),
          h("div", { class: "panel" }, table(
            [["Subscription"], ["Topic"], ["Backlog", "num"], ["In flight", "num"], ["Retrying", "num"],
             ["Dead letters", "num"], ["Oldest unacked", "num"], ["Dead-letter topic"], [""]],
            rows, "No subscriptions yet.")),
          h("p", { class: "muted" },
            "Backlog: records not yet settled. Redrive delivers a subscription's dead letters again " +
            "with a fresh delivery count."));
      },
    };
    return page;
  }

  function catalogPage() {
    const root = h("div", {});
    return {
      root,
      async refresh() {
        const cat = await getJSON("/catalog");
        const graph = h("div", { id: "lineage" });
        HeraldLineage.draw(graph, cat);
        const rows = [];
        for (const t of cat.topics) {
          for (const ty of t.types) {
            const schema = ty.schema && ty.schema.subject ?
              `${ty.schema.subject} v${ty.schema.version} (${ty.schema.schemaType}, id ${ty.schema.id})` :
              ty.schema ? `id ${ty.schema.id}` : ty.content_type || "";
            const sample = ty.sample ? JSON.stringify(
              "value" in ty.sample ? ty.sample.value : { value_b64: ty.sample.value_b64 }, null, 2) : "";
            rows.push(h("tr", { dataset: { topic: t.topic, type: ty.type } },
              h("td", {}, t.topic),
              h("td", { class: "mono", dataset: { field: "type" } }, ty.type),
              h("td", {}, h("span", { class: "pill" }, ty.kind)),
              h("td", { class: "num", dataset: { field: "records" } }, int(ty.records)),
              h("td", { class: "num", dataset: { field: "rate" } }, rate(ty.rate)),
              h("td", { dataset: { field: "producers" } },
                ty.producers.map((p) => h("span", { class: "pill", title: `${p.records} records` }, p.client_id))),
              h("td", { dataset: { field: "consumers" } },
                t.consumers.map((c) => h("span", { class: "pill ok" }, c.id))),
              h("td", { class: "muted" }, ago(ty.last_seen)),
              h("td", {}, schema, sample && h("details", {}, h("summary", {}, "sample"), h("pre", {}, sample)))));
          }
        }
        fill(root,
          h("h2", {}, "Event catalog"),
          cat.enabled ? null : h("div", { class: "notice" },
            "The catalog is turned off (catalog.enable=false): no types are recorded."),
          h("div", { class: "panel" }, h("h3", {}, "Lineage"), graph),
          h("div", { class: "panel" }, table(
            [["Topic"], ["Event type"], ["Kind"], ["Records", "num"], ["/s", "num"], ["Producers"],
             ["Consumers"], ["Last seen"], ["Schema · sample"]], rows, "No event types seen yet.")),
          h("p", { class: "muted" },
            "Seen since the broker started (kept in memory). Export: ",
            h("a", { href: "/asyncapi.json" }, "AsyncAPI 3.0"), " · ", h("a", { href: "/catalog" }, "JSON")));
      },
    };
  }

  function tailPage(topic) {
    const root = h("div", {});
    const state = h("span", { id: "tail-state", dataset: { state: "idle" } }, "");
    const list = h("ul", { id: "tail-list" });
    const count = h("span", { id: "tail-count", class: "muted" }, "");
    const select = h("select", { id: "tail-topic", onchange: () => { location.hash = `#/tail/${encodeURIComponent(select.value)}`; } });
    let es = null, n = 0;

    function setState(s, text) {
      state.dataset.state = s;
      state.textContent = text;
    }

    function add(rec) {
      n++;
      count.textContent = `${n} record${n === 1 ? "" : "s"}`;
      const type = rec.cloudevent ? rec.cloudevent.type : rec.headers && rec.headers.ce_type;
      let value = "value" in rec ? JSON.stringify(rec.value) : `base64 ${rec.value_b64}`;
      if (value.length > 600) value = value.slice(0, 600) + "…";
      const li = h("li", { dataset: { partition: rec.partition, offset: rec.offset } },
        h("div", {}, h("div", {}, new Date(rec.timestamp).toISOString().replace("T", " ").slice(0, 23)),
          h("div", { class: "meta" }, `partition ${rec.partition} · offset ${rec.offset}`)),
        h("div", {}, type ? h("span", { class: "pill" }, type) : h("span", { class: "muted" }, "untyped"),
          rec.key !== null && rec.key !== undefined ? h("div", { class: "meta" }, `key ${JSON.stringify(rec.key)}`) : null),
        h("div", { class: "mono", dataset: { field: "value" } }, value));
      list.prepend(li);
      while (list.children.length > TAIL_MAX) list.lastChild.remove();
    }

    function start() {
      if (!topic) return;
      setState("connecting", "connecting…");
      es = new EventSource(`/topics/${encodeURIComponent(topic)}/events?from=latest&client_id=${CLIENT_ID}`);
      es.onopen = () => setState("live", "live");
      es.onmessage = (m) => { try { add(JSON.parse(m.data)); } catch (e) { /* not a record */ } };
      es.onerror = () => setState("connecting", "reconnecting…");
    }

    return {
      root,
      async refresh() {
        // Only the topic list refreshes; records arrive on the stream.
        const ov = await getJSON("/console/api/overview");
        const names = ov.topics.map((t) => t.name);
        if (select.options.length !== names.length + 1) {
          select.replaceChildren(h("option", { value: "" }, "choose a topic…"),
            ...names.map((t) => h("option", { value: t }, t)));
          select.value = topic || "";
        }
        if (!topic && names.length && !root.dataset.redirected) {
          root.dataset.redirected = "1";
          location.hash = `#/tail/${encodeURIComponent(names[0])}`;
        }
      },
      mount() {
        fill(root,
          h("h2", {}, "Live tail"),
          h("div", { class: "toolbar" }, select, state, count),
          h("div", { class: "panel" }, list,
            h("div", { class: "empty", id: "tail-empty" }, topic ? "Waiting for records…" : "Choose a topic.")));
        const empty = () => { const e = document.getElementById("tail-empty"); if (e) e.hidden = list.children.length > 0; };
        new MutationObserver(empty).observe(list, { childList: true });
        start();
      },
      unmount() { if (es) es.close(); es = null; },
    };
  }

  function chartsPage() {
    const root = h("div", {});
    return {
      root,
      async refresh() {
        const hist = await getJSON("/console/api/history");
        const topics = Object.keys(hist.topics).sort();
        const groups = Object.keys(hist.groups).sort();
        const mk = (names, pick) => names.map((n, i) => ({ name: n, index: i, values: pick(n) }));
        const cin = h("div", { id: "chart-in" }), cout = h("div", { id: "chart-out" }), clag = h("div", { id: "chart-lag" });
        const span = Math.round((hist.interval_ms * hist.slots) / 60000);
        fill(root,
          h("h2", {}, "Charts"),
          h("p", { class: "muted" },
            `One sample every ${hist.interval_ms / 1000} s, the last ${hist.slots} kept (${span} min); ` +
            `${hist.times.length} so far.`),
          h("div", { class: "panel" }, h("h3", {}, "Records in per second, per topic"), cin),
          h("div", { class: "panel" }, h("h3", {}, "Records out per second, per topic"), cout),
          h("div", { class: "panel" }, h("h3", {}, "Consumer lag (records), per group"), clag));
        // Drawn once in the page, so each chart takes its panel's width.
        HeraldCharts.line(cin, { times: hist.times, label: "records in per second",
                                 series: mk(topics, (t) => hist.topics[t].in) });
        HeraldCharts.line(cout, { times: hist.times, label: "records out per second",
                                  series: mk(topics, (t) => hist.topics[t].out) });
        HeraldCharts.line(clag, { times: hist.times, label: "consumer lag",
                                  series: mk(groups, (g) => hist.groups[g].lag) });
      },
    };
  }

  // The architecture check (docs/doctor.md): a panel per category, each finding with its
  // severity, what it says, and the topics, types, groups, subscriptions, subjects and
  // producers behind it.
  const CATEGORIES = [
    ["event_explosion", "Event explosion"], ["weak_contracts", "Weak contracts"],
    ["observability", "Observability"], ["fragile_consumers", "Fragile consumers"],
    ["coupling", "Coupling"],
  ];
  const SEVERITY_PILL = { error: "bad", warning: "warn", info: "" };

  function healthPage() {
    const root = h("div", {});
    const subjects = (f) => {
      const out = [];
      for (const k of ["topic", "type", "group", "subscription", "subject"])
        if (typeof f[k] === "string") out.push(h("span", { class: "pill", dataset: { kind: k } }, `${k} ${f[k]}`));
      for (const p of f.producers || []) out.push(h("span", { class: "pill", dataset: { kind: "producer" } }, `producer ${p}`));
      for (const c of f.consumers || []) {
        const id = typeof c === "string" ? c : `${c.kind} ${c.id}`;
        out.push(h("span", { class: "pill", dataset: { kind: "consumer" } }, `consumer ${id}`));
      }
      return out;
    };
    return {
      root,
      async refresh() {
        const doc = await getJSON("/health/architecture");
        const order = { error: 0, warning: 1, info: 2 };
        const panels = CATEGORIES.map(([cat, title]) => {
          const fs = doc.findings.filter((f) => f.category === cat)
            .sort((a, b) => order[a.severity] - order[b.severity]);
          const rows = fs.map((f) => h("tr", { dataset: { finding: f.check, severity: f.severity, category: cat } },
            h("td", { dataset: { field: "severity" } }, h("span", { class: `pill ${SEVERITY_PILL[f.severity] || ""}` }, f.severity)),
            h("td", { dataset: { field: "message" } }, f.message),
            h("td", { dataset: { field: "subjects" } }, subjects(f))));
          const checks = doc.checks.filter((c) => c.category === cat).map((c) => c.title).join(" · ");
          return h("div", { class: "panel", dataset: { category: cat } },
            h("h3", {}, title, " ", h("span", { class: `pill ${fs.length ? (SEVERITY_PILL[fs[0].severity] || "") : "ok"}` },
              fs.length ? `${fs.length} finding${fs.length === 1 ? "" : "s"}` : "ok")),
            h("p", { class: "muted" }, checks),
            table([["Severity"], ["Finding"], ["Behind it"]], rows, "Nothing found."));
        });
        const tc = doc.trace_context || {};
        const share = typeof tc.untraced_share === "number" ? Math.round(tc.untraced_share * 100) + " %" : "–";
        fill(root,
          h("h2", {}, "Architecture health"),
          h("div", { class: "cards" },
            card(doc.status, "status", "status"),
            card(int(doc.counts.error), "errors", "error"),
            card(int(doc.counts.warning), "warnings", "warning"),
            card(int(doc.counts.info), "info", "info"),
            card(share, "records without trace context", "untraced")),
          panels,
          h("p", { class: "muted" },
            `Growth, dead-letter and coupling checks read the last samples (every ${doc.sample_interval_ms / 1000} s, ` +
            `${doc.samples} so far). The same report: herald doctor.`));
        const st = root.querySelector('[data-card="status"] .v');
        if (st) st.className = `v status-${doc.status}`;
      },
    };
  }

  // The pages in the navigation. A page with `feature` shows only when the overview reports
  // that feature as present (GET /console/api/overview: features). Webhooks (with endpoint
  // health) add their page here, with its own renderer, when that feature is built in; nothing
  // is shown for a feature this broker does not have.
  const PAGES = [
    { id: "topics", title: "Topics", make: topicsPage },
    { id: "groups", title: "Groups", make: groupsPage },
    { id: "subscriptions", title: "Subscriptions", make: subscriptionsPage, feature: "subscriptions" },
    { id: "catalog", title: "Catalog", make: catalogPage, feature: "catalog" },
    { id: "tail", title: "Live tail", make: tailPage },
    { id: "charts", title: "Charts", make: chartsPage },
    { id: "health", title: "Health", make: healthPage },
  ];

  let features = {};
  let current = null, timer = null;

  function drawNav(active) {
    nav.replaceChildren(...PAGES.filter((p) => !p.feature || features[p.feature] === true)
      .map((p) => h("a", { href: `#/${p.id}`, "aria-current": p.id === active ? "page" : null,
                           dataset: { page: p.id } }, p.title)));
  }

  async function tick() {
    const page = current;
    if (!page) return;
    try {
      await page.refresh();
      connected(true);
    } catch (e) {
      connected(false, e.message);
    }
    if (page === current) timer = setTimeout(tick, REFRESH_MS);
  }

  function route() {
    const [, id = "topics", ...rest] = location.hash.replace(/^#/, "").split("/");
    const def = PAGES.find((p) => p.id === id) || PAGES[0];
    if (current && current.unmount) current.unmount();
    clearTimeout(timer);
    current = def.make(rest.length ? decodeURIComponent(rest.join("/")) : undefined);
    current.id = def.id;
    document.title = `${def.title} · Herald console`;
    document.body.dataset.page = def.id;
    drawNav(def.id);
    view.replaceChildren(current.root);
    if (current.mount) current.mount();
    tick();
  }

  window.addEventListener("hashchange", route);
  getJSON("/console/api/overview")
    .then((ov) => { features = ov.features || {}; connected(true); })
    .catch((e) => connected(false, e.message))
    .finally(route);
})();
