// Drives the web console (served by Herald at /) in headless Chromium for
// test_console_browser.py: visits every page (the Health page too), reports what each shows as
// JSON, saves a
// screenshot of each, presses Redrive on the first subscription with dead letters, then opens
// the live tail of a topic and waits for a record whose value contains MARK (the test produces
// it after "ready").
//
//   node console.js BASE_URL SHOT_DIR TOPIC MARK [TIMEOUT_MS]
//
// Output, one JSON object per line on stdout:
//   {"event": "ready", "pages": {...}}        every page read; the tail is live: produce now
//   {"event": "done" | "timeout", "tail": [...], "pages": {...}, "console_errors": [...]}
// Screenshots: SHOT_DIR/console-<page>.png. The exit status is 0 after "done", 1 otherwise.
// Chromium runs with a fresh profile that is deleted on exit.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const CHROMIUM = process.env.HERALD_CHROMIUM || "/usr/bin/chromium";

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// ---- readers, run in the page ----

function readTopics() {
  const t = (el) => el.textContent.trim();
  return {
    title: document.title,
    nav: [...document.querySelectorAll("#nav a")].map((a) => a.dataset.page),
    cards: Object.fromEntries([...document.querySelectorAll("[data-card]")].map(
      (c) => [c.dataset.card, t(c.querySelector(".v"))])),
    rows: [...document.querySelectorAll("tr[data-topic]")].map((r) => ({
      topic: r.dataset.topic,
      ...Object.fromEntries([...r.querySelectorAll("[data-field]")].map((c) => [c.dataset.field, t(c)])),
    })),
  };
}

function readGroups() {
  const t = (el) => el.textContent.trim();
  return {
    rows: [...document.querySelectorAll("tr[data-group]")].map((r) => ({
      group: r.dataset.group,
      state: t(r.querySelector('[data-field="state"]')),
      members: [...r.querySelectorAll('[data-field="members"] .pill')].map(t),
      topics: t(r.querySelector('[data-field="topics"]')),
      lag: t(r.querySelector('[data-field="lag"]')),
    })),
    partitions: [...document.querySelectorAll("tr[data-group-partitions] tr[data-topic]")].map((r) => ({
      topic: r.dataset.topic, partition: Number(r.dataset.partition),
      lag: t(r.querySelector('[data-field="lag"]')),
    })),
  };
}

function readSubscriptions() {
  const t = (el) => el.textContent.trim();
  return [...document.querySelectorAll("tr[data-subscription]")].map((r) => ({
    name: r.dataset.subscription,
    ...Object.fromEntries([...r.querySelectorAll("[data-field]")].map((c) => [c.dataset.field, t(c)])),
    redrive_enabled: !r.querySelector('button[data-action="redrive"]').disabled,
  }));
}

function readCatalog() {
  const t = (el) => el.textContent.trim();
  return {
    types: [...document.querySelectorAll("tr[data-type]")].map((r) => ({
      topic: r.dataset.topic,
      type: r.dataset.type,
      records: t(r.querySelector('[data-field="records"]')),
      producers: [...r.querySelectorAll('[data-field="producers"] .pill')].map(t),
      consumers: [...r.querySelectorAll('[data-field="consumers"] .pill')].map(t),
    })),
    nodes: [...document.querySelectorAll("#lineage .node")].map((n) => ({
      kind: n.dataset.kind, id: n.dataset.id })),
    edges: [...document.querySelectorAll("#lineage .edge")].map((e) => [e.dataset.from, e.dataset.to]),
  };
}

function readCharts() {
  const series = (id) => [...document.querySelectorAll(`#${id} polyline.series`)].map((p) => ({
    name: p.dataset.series, points: p.getAttribute("points").split(" ").length }));
  return {
    in: series("chart-in"), out: series("chart-out"), lag: series("chart-lag"),
    legend: [...document.querySelectorAll("#chart-in .legend span")].map((s) => s.textContent),
  };
}

function readHealth() {
  const t = (el) => el.textContent.trim();
  return {
    status: t(document.querySelector('[data-card="status"] .v')),
    categories: [...document.querySelectorAll(".panel[data-category]")].map((p) => p.dataset.category),
    findings: [...document.querySelectorAll("tr[data-finding]")].map((r) => ({
      check: r.dataset.finding, severity: r.dataset.severity, category: r.dataset.category,
      message: t(r.querySelector('[data-field="message"]')),
      subjects: [...r.querySelectorAll('[data-field="subjects"] .pill')].map(t),
    })),
  };
}

function readTail() {
  return {
    state: document.getElementById("tail-state").dataset.state,
    topic: document.getElementById("tail-topic").value,
    records: [...document.querySelectorAll("#tail-list li")].map((li) => ({
      partition: Number(li.dataset.partition), offset: Number(li.dataset.offset),
      text: li.textContent.replace(/\s+/g, " ").trim(),
      value: li.querySelector('[data-field="value"]').textContent,
    })),
  };
}

async function main() {
  const [base, shotDir, topic, mark, timeoutArg] = process.argv.slice(2);
  if (!base || !shotDir || !topic || !mark) {
    console.error("usage: node console.js BASE_URL SHOT_DIR TOPIC MARK [TIMEOUT_MS]");
    process.exit(2);
  }
  const timeout = Number(timeoutArg || 30000);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "herald-chromium-"));
  const consoleErrors = [];
  let context = null;
  let ok = false;
  const pages = {};
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 800 },
      locale: "en-US",
      timezoneId: "UTC",
    });
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (msg) => {
      if (msg.type() === "error") consoleErrors.push(msg.text());
    });
    page.on("pageerror", (err) => consoleErrors.push(`uncaught: ${err.message}`));
    page.on("requestfailed", (req) => {
      // Leaving the tail page closes its EventSource: that abort is not an error.
      const why = req.failure()?.errorText ?? "";
      if (!(why === "net::ERR_ABORTED" && req.url().includes("/events?")))
        consoleErrors.push(`request failed: ${req.url()} ${why}`);
    });
    fs.mkdirSync(shotDir, { recursive: true });
    const shot = (name) => page.screenshot({ path: path.join(shotDir, `console-${name}.png`),
                                             fullPage: true, animations: "disabled" });
    // Waits until the page has drawn its data, then until one more refresh has passed, so
    // what is read is what the refresh loop keeps showing.
    const visit = async (hash, selector) => {
      await page.evaluate((h) => { location.hash = h; }, hash);
      await page.waitForSelector(selector, { timeout });
      await page.waitForTimeout(2300);
    };

    const res = await page.goto(base + "/", { waitUntil: "load", timeout });
    if (!res || !res.ok()) throw new Error(`GET ${base}/: ${res ? res.status() : "no answer"}`);
    pages.content_type = res.headers()["content-type"];
    await page.waitForSelector('#conn[data-state="ok"]', { timeout });

    await visit("#/topics", "tr[data-topic]");
    pages.topics = await page.evaluate(readTopics);
    await shot("topics");

    await visit("#/groups", "tr[data-group]");
    await page.click("tr[data-group] button");
    await page.waitForSelector("tr[data-group-partitions] tr[data-topic]", { timeout });
    pages.groups = await page.evaluate(readGroups);
    await shot("groups");

    await visit("#/subscriptions", "tr[data-subscription]");
    pages.subscriptions = { before: await page.evaluate(readSubscriptions) };
    await shot("subscriptions");
    // Redrive the dead letters of the first subscription that has some, and wait for the answer.
    const row = page.locator("tr[data-subscription]", { has: page.locator("button[data-action=redrive]:enabled") }).first();
    if (await row.count()) {
      await row.locator("button[data-action=redrive]").click();
      await page.waitForFunction(() => [...document.querySelectorAll('[data-field="redrive_result"]')]
        .some((e) => e.textContent.startsWith("redriven")), null, { timeout, polling: 100 });
      pages.subscriptions.after = await page.evaluate(readSubscriptions);
    }

    await visit("#/catalog", "#lineage .node");
    pages.catalog = await page.evaluate(readCatalog);
    await shot("catalog");

    await visit("#/charts", "#chart-in polyline.series");
    pages.charts = await page.evaluate(readCharts);
    await shot("charts");

    await visit("#/health", ".panel[data-category]");
    pages.health = await page.evaluate(readHealth);
    await shot("health");

    await page.evaluate((t) => { location.hash = `#/tail/${encodeURIComponent(t)}`; }, topic);
    await page.waitForSelector('#tail-state[data-state="live"]', { timeout });
    emit({ event: "ready", pages, console_errors: [...consoleErrors] });

    let event = "done";
    try {
      await page.waitForFunction((m) => [...document.querySelectorAll("#tail-list li")]
        .some((li) => li.textContent.includes(m)), mark, { timeout, polling: 100 });
      await page.waitForTimeout(800); // late duplicates would show now
    } catch (e) {
      if (e.name !== "TimeoutError") throw e;
      event = "timeout";
    }
    const tail = await page.evaluate(readTail);
    await shot("tail");
    ok = event === "done";
    emit({ event, tail, pages, console_errors: consoleErrors });
  } catch (e) {
    emit({ event: "error", error: String(e && e.stack ? e.stack : e), pages,
           console_errors: consoleErrors });
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.exit(ok ? 0 : 1);
}

main();
