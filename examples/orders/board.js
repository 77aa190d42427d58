// A live order-tracking board over Herald's HTTP streams, in plain JavaScript (no dependencies,
// no build step). The board is fed by a WebSocket, the activity feed by Server-Sent Events, both
// reading the same topic from its start; each reconnects by itself and resumes where it stopped.
//
// An order event is a record on the topic (default "orders", or ?topic=NAME) whose key is the
// order id and whose value is JSON such as
//   {"order_id":"o-1","status":"paid","customer":"Ada","total":12.5,"eta":"2026-05-01T16:00:00Z"}
// A CloudEvent works too: structured ({"specversion","type","data"}) or binary (ce_type header),
// with a type such as com.example.order.paid; the last part of the type is then the status when
// the data has none. Later events of an order only need the fields that changed.

const STEPS = ["placed", "paid", "packed", "shipped", "delivered"];
const FEED_MAX = 200;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10000;

const params = new URLSearchParams(location.search);
const TOPIC = params.get("topic") || "orders";
const topicPath = `/topics/${encodeURIComponent(TOPIC)}`;

// ---- reading a stream message ----

// One stream message ({id, partition, offset, timestamp, key, value, headers}, value_b64 when
// the value is not JSON, "cloudevent" when the record is a CloudEvent) as an order event, or
// null when it is not one.
function orderEvent(msg) {
  if (!msg || typeof msg !== "object" || typeof msg.offset !== "number") return null;
  const headers = msg.headers && typeof msg.headers === "object" ? msg.headers : {};
  let value = msg.value;
  let type = typeof headers.ce_type === "string" ? headers.ce_type : null;
  if (typeof value === "string") value = parseJson(value);
  // A structured CloudEvent as the value, or the server's CloudEvent view of the record.
  const ce = isCloudEvent(value) ? value : isCloudEvent(msg.cloudevent) ? msg.cloudevent : null;
  if (ce) {
    type = ce.type;
    if (!isObject(value) || value === ce) {
      value = typeof ce.data === "string" ? parseJson(ce.data) : ce.data;
    }
  }
  if (!isObject(value)) value = {};
  const key = msg.key === undefined || msg.key === null ? null : String(msg.key);
  const id = value.order_id != null ? String(value.order_id) : key;
  let status = typeof value.status === "string" ? value.status : null;
  if (!status && type) status = type.slice(type.lastIndexOf(".") + 1);
  if (!id || !status) return null;
  return {
    id,
    status: status.toLowerCase(),
    customer: typeof value.customer === "string" ? value.customer : undefined,
    total: typeof value.total === "number" ? value.total : undefined,
    currency: typeof value.currency === "string" ? value.currency : undefined,
    eta: typeof value.eta === "string" ? value.eta : undefined,
    partition: msg.partition,
    offset: msg.offset,
    timestamp: msg.timestamp,
    type,
  };
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function isCloudEvent(v) {
  return isObject(v) && typeof v.specversion === "string" && typeof v.type === "string";
}

// Remembers the last offset seen per partition, so that records delivered again after a
// reconnect are skipped. The counts show on the connection badge (data-messages,
// data-repeats): with exact resumption the repeats stay at 0.
class Seen {
  constructor(badge) {
    this.last = new Map();
    this.badge = document.getElementById(badge);
    this.messages = 0;
    this.repeats = 0;
  }
  // True the first time (partition, offset) is offered.
  fresh(partition, offset) {
    this.messages++;
    const last = this.last.get(partition);
    const fresh = last === undefined || offset > last;
    if (fresh) this.last.set(partition, offset);
    else this.repeats++;
    this.badge.dataset.messages = this.messages;
    this.badge.dataset.repeats = this.repeats;
    this.badge.title = `${this.messages} messages, ${this.repeats} seen before`;
    return fresh;
  }
}

// ---- connection badges ----

const notice = document.getElementById("notice");

function setConn(which, state, detail) {
  const el = document.getElementById(`${which}-state`);
  el.dataset.state = state;
  el.querySelector(".label").textContent = detail ? `${state} (${detail})` : state;
}

function showNotice(text) {
  notice.textContent = text;
  notice.hidden = !text;
}

// Reconnection delays: doubling from RETRY_MIN_MS up to RETRY_MAX_MS, reset once live.
class Backoff {
  constructor() {
    this.ms = RETRY_MIN_MS;
  }
  next() {
    const ms = this.ms;
    this.ms = Math.min(this.ms * 2, RETRY_MAX_MS);
    return ms;
  }
  reset() {
    this.ms = RETRY_MIN_MS;
  }
}

// ---- the board (WebSocket) ----

const board = document.getElementById("board");
const boardEmpty = document.getElementById("board-empty");
const tally = document.getElementById("tally");
const cardTemplate = document.getElementById("card-template");
const orders = new Map(); // order id -> {event, el}
const wsSeen = new Seen("ws-state");

function formatTotal(ev) {
  if (ev.total === undefined) return "";
  if (ev.currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: ev.currency }).format(
        ev.total
      );
    } catch {
      /* an unknown currency code: plain number below */
    }
  }
  return ev.total.toFixed(2);
}

function formatTime(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString();
}

function formatEta(eta) {
  if (!eta) return "";
  const d = new Date(eta);
  return `ETA ${Number.isNaN(d.getTime()) ? eta : d.toLocaleString()}`;
}

function newCard(id) {
  const el = cardTemplate.content.firstElementChild.cloneNode(true);
  el.dataset.order = id;
  el.querySelector('[data-field="id"]').textContent = id;
  const steps = el.querySelector(".steps");
  for (const s of STEPS) {
    const li = document.createElement("li");
    li.dataset.step = s;
    li.title = s;
    steps.append(li);
  }
  el.addEventListener("animationend", () => el.classList.remove("bump"));
  board.append(el);
  return el;
}

function renderCard(el, ev) {
  el.dataset.status = ev.status;
  const status = el.querySelector('[data-field="status"]');
  status.textContent = ev.status;
  status.className = `status status-${STEPS.includes(ev.status) ? ev.status : "other"}`;
  el.querySelector('[data-field="customer"]').textContent = ev.customer ?? "";
  el.querySelector('[data-field="total"]').textContent = formatTotal(ev);
  el.querySelector('[data-field="eta"]').textContent = formatEta(ev.eta);
  el.querySelector('[data-field="where"]').textContent =
    `partition ${ev.partition} · offset ${ev.offset} · ${formatTime(ev.timestamp)}`;
  const reached = STEPS.indexOf(ev.status);
  for (const li of el.querySelectorAll(".steps li")) {
    li.classList.toggle("done", STEPS.indexOf(li.dataset.step) <= reached);
  }
  el.classList.remove("bump");
  void el.offsetWidth; // restart the highlight animation
  el.classList.add("bump");
}

function renderTally() {
  const counts = new Map();
  for (const { event } of orders.values()) counts.set(event.status, (counts.get(event.status) ?? 0) + 1);
  const items = [];
  for (const s of [...STEPS, ...[...counts.keys()].filter((k) => !STEPS.includes(k))]) {
    const li = document.createElement("li");
    li.dataset.status = s;
    li.textContent = `${s} ${counts.get(s) ?? 0}`;
    items.push(li);
  }
  tally.replaceChildren(...items);
}

function applyToBoard(ev) {
  let entry = orders.get(ev.id);
  if (!entry) {
    entry = { event: {}, el: newCard(ev.id) };
    orders.set(ev.id, entry);
  }
  // Later events may carry only what changed: keep the fields they leave out.
  const merged = { ...entry.event };
  for (const [k, v] of Object.entries(ev)) if (v !== undefined) merged[k] = v;
  entry.event = merged;
  renderCard(entry.el, merged);
  boardEmpty.hidden = true;
  renderTally();
}

const wsBackoff = new Backoff();
let wsLastId = null;

// Streams start at the topic's beginning; after a drop they resume after the last event id
// seen (it names a position on every partition, so nothing is missed or repeated).
function streamQuery(lastId) {
  const q = new URLSearchParams({ from: "earliest" });
  if (lastId) q.set("last_event_id", lastId);
  return q.toString();
}

function wsUrl() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${topicPath}/ws?${streamQuery(wsLastId)}`;
}

function connectWs() {
  setConn("ws", "connecting");
  const ws = new WebSocket(wsUrl());
  ws.addEventListener("open", () => {
    wsBackoff.reset();
    setConn("ws", "live");
  });
  ws.addEventListener("message", (e) => {
    const msg = typeof e.data === "string" ? parseJson(e.data) : null;
    if (!msg || typeof msg.offset !== "number") return;
    if (typeof msg.id === "string") wsLastId = msg.id;
    if (!wsSeen.fresh(msg.partition, msg.offset)) return;
    const ev = orderEvent(msg);
    if (ev) applyToBoard(ev);
  });
  ws.addEventListener("close", (e) => {
    const ms = wsBackoff.next();
    // 1011: the topic was deleted or cannot be read; 1008: this page fell too far behind.
    const why = e.reason || (e.code === 1006 ? "connection lost" : `code ${e.code}`);
    setConn("ws", "reconnecting", `${why}; retry in ${(ms / 1000).toFixed(1)} s`);
    setTimeout(connectWs, ms);
  });
}

// ---- the activity feed (Server-Sent Events) ----

const feed = document.getElementById("activity");
const feedCount = document.getElementById("activity-count");
const sseSeen = new Seen("sse-state");
let sseEvents = 0;

function applyToFeed(ev) {
  const li = document.createElement("li");
  li.dataset.order = ev.id;
  li.dataset.status = ev.status;
  const time = document.createElement("time");
  time.textContent = formatTime(ev.timestamp);
  const id = document.createElement("b");
  id.textContent = ev.id;
  const status = document.createElement("span");
  status.className = `status status-${STEPS.includes(ev.status) ? ev.status : "other"}`;
  status.textContent = ev.status;
  const where = document.createElement("small");
  where.textContent = `p${ev.partition}@${ev.offset}`;
  li.append(time, " ", id, " → ", status, " ", where);
  feed.prepend(li);
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  sseEvents++;
  feedCount.textContent = `${sseEvents} event${sseEvents === 1 ? "" : "s"}`;
}

const sseBackoff = new Backoff();
let sseLastId = null;

function onSseMessage(e) {
  if (e.lastEventId) sseLastId = e.lastEventId;
  const msg = parseJson(e.data);
  if (!msg || typeof msg.offset !== "number") return;
  if (!sseSeen.fresh(msg.partition, msg.offset)) return;
  const ev = orderEvent(msg);
  if (ev) applyToFeed(ev);
}

function connectSse() {
  setConn("sse", "connecting");
  // EventSource reconnects by itself after a drop and sends Last-Event-ID, so the server
  // resumes after the last event; only a refused request closes it for good, and then a new
  // one resumes with ?last_event_id=.
  const es = new EventSource(`${topicPath}/events?${streamQuery(sseLastId)}`);
  es.addEventListener("open", () => {
    sseBackoff.reset();
    setConn("sse", "live");
  });
  es.addEventListener("message", onSseMessage);
  es.addEventListener("error", (e) => {
    // The server's last word before it ends a stream: "event: error", data {reason, topic}.
    if (typeof e.data === "string") {
      const why = parseJson(e.data);
      showNotice(`The activity stream ended: ${why && why.reason ? why.reason : e.data}`);
      return;
    }
    if (es.readyState === EventSource.CLOSED) {
      const ms = sseBackoff.next();
      setConn("sse", "reconnecting", `refused; retry in ${(ms / 1000).toFixed(1)} s`);
      setTimeout(connectSse, ms);
    } else {
      setConn("sse", "reconnecting");
    }
  });
}

// ---- start ----

// Check the topic once first, so a missing topic is explained instead of retried blindly.
async function start() {
  document.getElementById("topic-name").textContent = TOPIC;
  renderTally();
  const backoff = new Backoff();
  for (;;) {
    let res = null;
    try {
      res = await fetch(topicPath, { headers: { Accept: "application/json" } });
    } catch {
      /* the server is not reachable: retry below */
    }
    if (res && res.ok) break;
    const ms = backoff.next();
    showNotice(
      res && res.status === 404
        ? `Topic "${TOPIC}" does not exist yet; create it with POST /topics {"name":"${TOPIC}"}. Retrying…`
        : `Herald is not reachable (${res ? res.status : "no answer"}). Retrying…`
    );
    await new Promise((r) => setTimeout(r, ms));
  }
  showNotice("");
  connectWs();
  connectSse();
}

start();
