// Drives the order board example (examples/orders/) in headless Chromium for
// test_http_browser.py: opens the page, reports when both of its streams are live, waits until
// the page shows what each stage expects, reporting what the page shows as JSON, and saves a
// screenshot at the end.
//
//   node orders_board.js URL SCREENSHOT STAGES_JSON [TIMEOUT_MS]
//
// STAGES_JSON: a list of {"board": {"o-1": "shipped", ...}, "feed": N}: a stage is reached when
// every listed order's card has that status on the board (WebSocket) and the activity feed
// (SSE) has at least N entries. Output, one JSON object per line on stdout:
//   {"event": "ready"}                                 both streams are live; produce now
//   {"event": "stage", "stage": i, "page", "console_errors"}   stage i reached (not the last)
//   {"event": "done" | "timeout", "stage": i, "page": {...}, "console_errors": [...]}
// console_errors is everything logged so far. The exit status is 0 after "done", 1 otherwise.
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

// Everything the test asserts, read from the DOM as a user would see it.
function readPage() {
  const text = (el) => (el ? el.textContent.trim().replace(/\s+/g, " ") : null);
  const cards = [...document.querySelectorAll("#board .order")].map((el) => ({
    id: el.dataset.order,
    status: text(el.querySelector('[data-field="status"]')),
    customer: text(el.querySelector('[data-field="customer"]')),
    total: text(el.querySelector('[data-field="total"]')),
    eta: text(el.querySelector('[data-field="eta"]')),
    steps_done: el.querySelectorAll(".steps li.done").length,
    text: text(el),
  }));
  const feed = [...document.querySelectorAll("#activity li")].map((el) => ({
    order: el.dataset.order,
    status: el.dataset.status,
    text: text(el),
  }));
  return {
    title: document.title,
    ws_state: document.getElementById("ws-state").dataset.state,
    sse_state: document.getElementById("sse-state").dataset.state,
    // Stream messages received, and those a resumed stream sent again.
    ws_messages: Number(document.getElementById("ws-state").dataset.messages || 0),
    ws_repeats: Number(document.getElementById("ws-state").dataset.repeats || 0),
    sse_messages: Number(document.getElementById("sse-state").dataset.messages || 0),
    sse_repeats: Number(document.getElementById("sse-state").dataset.repeats || 0),
    notice: document.getElementById("notice").hidden ? null : text(document.getElementById("notice")),
    tally: [...document.querySelectorAll("#tally li")].map((el) => text(el)),
    activity_count: text(document.getElementById("activity-count")),
    cards,
    feed,
  };
}

// True once the page shows what EXPECT_JSON asks for.
function pageShows(expect) {
  for (const [id, status] of Object.entries(expect.board)) {
    const card = document.querySelector(`#board .order[data-order="${CSS.escape(id)}"]`);
    if (!card || card.dataset.status !== status) return false;
  }
  return document.querySelectorAll("#activity li").length >= expect.feed;
}

async function main() {
  const [url, screenshot, stagesJson, timeoutArg] = process.argv.slice(2);
  if (!url || !screenshot || !stagesJson) {
    console.error("usage: node orders_board.js URL SCREENSHOT STAGES_JSON [TIMEOUT_MS]");
    process.exit(2);
  }
  const stages = JSON.parse(stagesJson);
  const timeout = Number(timeoutArg || 30000);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "herald-chromium-"));
  const consoleErrors = [];
  let context = null;
  let ok = false;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1200, height: 720 },
      locale: "en-US",
      timezoneId: "UTC",
    });
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (msg) => {
      if (msg.type() === "error") consoleErrors.push(msg.text());
    });
    page.on("pageerror", (err) => consoleErrors.push(`uncaught: ${err.message}`));
    page.on("requestfailed", (req) =>
      consoleErrors.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ""}`)
    );

    const res = await page.goto(url, { waitUntil: "load", timeout });
    if (!res || !res.ok()) throw new Error(`GET ${url}: ${res ? res.status() : "no answer"}`);
    await page.waitForSelector('#ws-state[data-state="live"]', { timeout });
    await page.waitForSelector('#sse-state[data-state="live"]', { timeout });
    emit({ event: "ready" });

    let event = "done";
    let stage = 0;
    for (; stage < stages.length; stage++) {
      try {
        await page.waitForFunction(pageShows, stages[stage], { timeout, polling: 100 });
        // Let late or duplicate deliveries show up before reading, so the test would see them.
        await page.waitForTimeout(500);
      } catch (e) {
        if (e.name !== "TimeoutError") throw e;
        event = "timeout";
        break;
      }
      if (stage < stages.length - 1) {
        emit({ event: "stage", stage, page: await page.evaluate(readPage),
               console_errors: [...consoleErrors] });
      }
    }
    ok = event === "done";
    const shown = await page.evaluate(readPage);
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true, animations: "disabled" });
    emit({ event, stage: Math.min(stage, stages.length - 1), page: shown,
           console_errors: consoleErrors });
  } catch (e) {
    emit({ event: "error", error: String(e && e.stack ? e.stack : e), console_errors: consoleErrors });
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.exit(ok ? 0 : 1);
}

main();
