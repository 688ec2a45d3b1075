// Drives the official Admin UI (@socket.io/admin-ui's ui/dist, served by our server under
// /admin/) in headless Chromium with playwright-core: logs in through its connection form, then
// checks the Servers, Sockets and Rooms pages, takes screenshots, and disconnects one socket
// from the Sockets page.
//
//   node admin_ui_driver.mjs CHROMIUM '{"page": ..., "serverUrl": ..., "username": ...,
//     "password": ..., "servers": [...], "sockets": [...], "rooms": [...],
//     "disconnect": SID, "screenshots": DIR}'
//
// Prints one JSON line: {ok, steps, error?, console}.

import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(new URL("../../node/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [executablePath, rawParams] = process.argv.slice(2);
const params = JSON.parse(rawParams);
const WAIT = 15000;
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

const steps = [];
const logged = [];
const browser = await chromium.launch({ executablePath, args: ARGS, timeout: 30000 });
let ok = false;
let error;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("console", (msg) => logged.push(`${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => logged.push(`pageerror: ${err.message}`));
  // The page links web fonts and icons from CDNs: no network here, so fail them at once.
  const origin = new URL(params.page).origin;
  await page.route(
    (url) => url.origin !== origin,
    (route) => route.abort(),
  );
  const shot = async (name) => {
    const file = path.join(params.screenshots, `${name}.png`);
    // Finite animations (the page transition) run to their end first: no half-faded pages.
    await page.screenshot({ path: file, fullPage: true, animations: "disabled" });
    steps.push(`screenshot ${file}`);
  };
  const visit = async (hash) => {
    await page.evaluate((h) => {
      window.location.hash = h;
    }, hash);
  };

  await page.goto(params.page, { waitUntil: "load" });
  await page.getByLabel("Server URL").fill(params.serverUrl);
  await page.getByLabel("Username").fill(params.username);
  await page.getByLabel("Password").fill(params.password);
  await page.getByRole("button", { name: "Connect" }).click();
  await page.getByLabel("Server URL").waitFor({ state: "hidden" });
  steps.push("logged in");

  await visit("#/servers/");
  for (const serverId of params.servers) {
    await page.getByRole("cell", { name: serverId, exact: true }).first().waitFor();
  }
  steps.push(`servers: ${params.servers.join(", ")}`);
  await shot("servers");

  await visit("#/sockets/");
  for (const sid of params.sockets) {
    await page.getByRole("cell", { name: sid, exact: true }).first().waitFor();
  }
  steps.push(`sockets: ${params.sockets.join(", ")}`);
  await shot("sockets");

  await visit("#/rooms/");
  for (const room of params.rooms) {
    await page.getByRole("cell", { name: room, exact: true }).first().waitFor();
  }
  steps.push(`rooms: ${params.rooms.join(", ")}`);
  await shot("rooms");

  await visit("#/");
  await page.waitForTimeout(500); // the dashboard's charts animate in
  await shot("dashboard");

  await visit("#/sockets/");
  const cell = page.locator("td.text-start", { hasText: params.disconnect });
  await cell.first().waitFor();
  // The row's logout button (a click on the row itself would open the socket's page).
  await page.locator("tr").filter({ has: cell }).getByRole("button").first().click();
  await visit("#/sockets/");
  await page.waitForFunction(
    (sid) =>
      window.location.hash === "#/sockets/" &&
      document.querySelectorAll("td.text-start").length > 0 &&
      ![...document.querySelectorAll("td.text-start")].some((td) => td.textContent.trim() === sid),
    params.disconnect,
  );
  steps.push(`disconnected ${params.disconnect}`);
  ok = true;
} catch (err) {
  error = String(err);
} finally {
  await browser.close().catch(() => {});
}
process.stdout.write(JSON.stringify({ ok, steps, error, console: logged }) + "\n");
