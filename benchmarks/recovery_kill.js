// The chat under load while a worker is killed: how many messages never reach a client?
//
// Usage: node recovery_kill.js '<json>' with
//   {url, ips: [IP, ...], rate, seconds, killAt, killPid, settle}
// One official socket.io-client per source address (so the cluster's sticky dispatch spreads
// them over the workers), all in the chat's lobby. Every client sends "<name>:<n>" in turn, `rate`
// messages a second in all, with retries (at least once: acknowledged, retried on error and on
// reconnect). At `killAt` seconds the worker `killPid` gets SIGKILL. After `seconds`, sending
// stops; once every message is acknowledged, the clients wait `settle` ms for deliveries.
//
// Prints one JSON line: per client, the messages it should have received (every other client's)
// and those that never arrived, the duplicates, and how its reconnection went.
"use strict";

const path = require("path");
const http = require("http");
const { io } = require(path.join(__dirname, "..", "tests", "node", "node_modules", "socket.io-client"));

const p = JSON.parse(process.argv[2]);
const clients = p.ips.map((ip, i) => {
  const name = `c${i}`;
  const socket = io(p.url, {
    forceNew: true,
    transports: ["websocket"],
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    auth: { user: name },
    agent: new http.Agent({ localAddress: ip }),
    localAddress: ip,
    retries: 20,
    ackTimeout: 2000,
  });
  const c = { name, ip, socket, sent: 0, acked: 0, failed: 0, got: new Map(), connects: 0, recovered: 0 };
  socket.on("connect", () => {
    c.connects += 1;
    if (socket.recovered) c.recovered += 1;
  });
  socket.on("chat message", (text) => {
    const key = String(text).split(" from ")[0];
    c.got.set(key, (c.got.get(key) || 0) + 1);
  });
  return c;
});

function until(predicate, ms) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > ms) return reject(new Error("timeout"));
      setTimeout(check, 20);
    };
    check();
  });
}

async function main() {
  await until(() => clients.every((c) => c.socket.connected), 10000);
  let turn = 0;
  const started = Date.now();
  let killed = false;
  const interval = 1000 / p.rate;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (Date.now() - started) / 1000;
      if (!killed && elapsed >= p.killAt) {
        killed = true;
        process.kill(p.killPid, "SIGKILL");
      }
      if (elapsed >= p.seconds) {
        clearInterval(timer);
        resolve();
        return;
      }
      const c = clients[turn++ % clients.length];
      const n = c.sent++;
      c.socket.emit("chat message", c.name, `${c.name}:${n}`, (err) => {
        if (err) c.failed += 1;
        else c.acked += 1;
      });
    }, interval);
  });
  const allAcked = () => clients.every((c) => c.acked + c.failed === c.sent);
  await until(allAcked, 30000).catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, p.settle));
  const report = clients.map((c) => {
    let expected = 0;
    let lost = 0;
    let duplicates = 0;
    for (const other of clients) {
      if (other === c) continue;
      for (let n = 0; n < other.sent; n++) {
        expected += 1;
        const count = c.got.get(`${other.name}:${n}`) || 0;
        if (count === 0) lost += 1;
        if (count > 1) duplicates += count - 1;
      }
    }
    return {
      name: c.name,
      ip: c.ip,
      expected,
      lost,
      duplicates,
      connects: c.connects,
      recovered: c.recovered,
      failed: c.failed,
      unanswered: c.sent - c.acked - c.failed,
    };
  });
  console.log(JSON.stringify({ clients: report }));
  for (const c of clients) c.socket.disconnect();
  process.exit(0);
}

main().catch((err) => {
  console.log(JSON.stringify({ error: String(err) }));
  process.exit(1);
});
