// Drives Debian's Chromium with playwright-core for the browser interop tests.
//
//   node driver.mjs /usr/bin/chromium [CHROMIUM_ARGS...]
//
// Prints {"type": "ready", "version": ...} once the browser runs, then reads one JSON request a
// line on stdin:
//
//   {"id": 1, "url": "http://127.0.0.1:PORT/", "params": {...}, "timeout": 20000}
//
// and for each opens the page in a fresh browser context (no shared cookies or cache), runs
// `window.runScenario(params)` in it and prints one line:
//
//   {"type": "result", "id": 1, "ok": true, "result": ..., "console": [...]}
//   {"type": "result", "id": 1, "ok": false, "error": "...", "console": [...]}
//
// "console" holds what the page logged, the browser's own network errors included (a request
// blocked by CORS, a refused websocket handshake). When stdin ends the browser is closed and the
// driver exits.

import { createRequire } from "node:module";
import { createInterface } from "node:readline";

// playwright-core lives with the other npm test packages in tests/node.
const require = createRequire(new URL("../../node/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const executablePath = process.argv[2] || "/usr/bin/chromium";
// Further arguments go to Chromium (the TLS tests pin their test certificate's key with
// --ignore-certificate-errors-spki-list).
const extraArgs = process.argv.slice(3);

// Debian's Chromium as root on a machine without a network: no sandbox, no GPU, and none of
// its own background traffic (updates, sync, QUIC probes).
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function withTimeout(promise, ms, label) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

async function run(browser, request) {
  const timeout = request.timeout || 20000;
  const logged = [];
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.on("console", (msg) => logged.push(`${msg.type()}: ${msg.text()}`));
    page.on("pageerror", (err) => logged.push(`pageerror: ${err.message}`));
    await page.goto(request.url, { timeout, waitUntil: "load" });
    const result = await withTimeout(
      page.evaluate((params) => window.runScenario(params), request.params || {}),
      timeout,
      "runScenario",
    );
    return { type: "result", id: request.id, ok: true, result, console: logged };
  } catch (err) {
    return { type: "result", id: request.id, ok: false, error: String(err), console: logged };
  } finally {
    await context.close().catch(() => {});
  }
}

const browser = await chromium.launch({
  executablePath,
  args: [...ARGS, ...extraArgs],
  timeout: 30000,
});
send({ type: "ready", version: browser.version() });

// One request at a time, in order.
let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (!line.trim()) return;
  queue = queue.then(async () => {
    let request;
    try {
      request = JSON.parse(line);
    } catch (err) {
      send({ type: "result", id: null, ok: false, error: `bad request: ${err}`, console: [] });
      return;
    }
    send(await run(browser, request));
  });
});
lines.on("close", () => {
  queue.then(() => browser.close()).finally(() => process.exit(0));
});
