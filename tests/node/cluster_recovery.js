// Connection state recovery against a cluster, with the official socket.io-client: a client
// drops (its transport closed, or its worker killed), others chat to its room meanwhile, and it
// comes back recovered with every message once.
//
// Usage: node cluster_recovery.js '<json>' with
//   {url, transports, mode: "drop" | "kill", recovering: IP, others: [IP, ...], killPid?,
//    patience?: ms to wait for the missed messages (default 10000)}
// Each client binds its own loopback source address (so the cluster's sticky dispatch puts it on
// the worker of that address); the senders use retries, so their messages are sent at least once.
// Prints one JSON line: {ok, error?, recovered, sameId, got, expected, extra}.
"use strict";

const http = require("http");
const { io } = require("socket.io-client");

const params = JSON.parse(process.argv[2]);
const WAIT = 10000;
const ROOM = "recovery";
const PER_SENDER = 5;

function client(name, ip, extra = {}) {
  const agent = new http.Agent({ localAddress: ip });
  return io(params.url, {
    forceNew: true,
    transports: params.transports || undefined,
    reconnectionDelay: 100,
    reconnectionDelayMax: 300,
    auth: { user: name },
    agent,
    localAddress: ip,
    ...extra,
  });
}

function until(predicate, label, ms = WAIT) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > ms) return reject(new Error(`timeout waiting for ${label}`));
      setTimeout(check, 10);
    };
    check();
  });
}

const got = [];
const expected = ["first from S0"];
let r;

async function main() {
  r = client("R", params.recovering);
  r.on("chat message", (text, offset) => got.push(text));
  const senders = params.others.map((ip, i) =>
    client(`S${i}`, ip, { retries: 10, ackTimeout: 2000 }),
  );
  const all = [r, ...senders];
  await until(() => all.every((s) => s.connected), "every client to connect");
  for (const s of all) await s.emitWithAck("join", ROOM);
  // Every client gets an event (an offset to recover from: a client that has none cannot).
  r.emit("chat message", "R", "hello");
  const heard = senders.map(() => false);
  senders.forEach((s, i) => s.once("chat message", () => (heard[i] = true)));
  await until(() => heard.every(Boolean), "R's hello at every sender");
  // One message first, so that R has an offset to recover from.
  senders[0].emit("chat message", "S0", "first");
  await until(() => got.includes("first from S0"), "the first message");
  const firstId = r.id;
  let reconnected = false;
  r.on("connect", () => {
    reconnected = true;
  });
  if (params.mode === "kill") {
    process.kill(params.killPid, "SIGKILL");
  } else {
    r.io.engine.close();
  }
  await until(() => !r.connected, "R to notice the drop");
  senders.forEach((s, i) => {
    for (let k = 1; k <= PER_SENDER; k++) {
      s.emit("chat message", `S${i}`, `m${k}`);
      expected.push(`m${k} from S${i}`);
    }
  });
  await until(() => reconnected, "R to reconnect");
  // Sent after R is back: it gets it live (its room came back with its session).
  senders[0].emit("chat message", "S0", "after");
  expected.push("after from S0");
  await until(() => expected.every((m) => got.includes(m)), "every message at R", params.patience);
  const sorted = (list) => [...list].sort();
  const extra = got.filter((m, i) => got.indexOf(m) !== i || !expected.includes(m));
  const inOrder = senders.every((_, i) => {
    const mine = got.filter((m) => m.endsWith(` from S${i}`) && /^m\d/.test(m));
    return JSON.stringify(mine) === JSON.stringify(mine.slice().sort());
  });
  console.log(
    JSON.stringify({
      ok: true,
      recovered: r.recovered,
      sameId: r.id === firstId,
      got: sorted(got),
      expected: sorted(expected),
      extra,
      inOrder,
    }),
  );
  for (const s of all) s.disconnect();
  process.exit(0);
}

main().catch((err) => {
  const error = String(err && err.message ? err.message : err);
  const missing = expected.filter((m) => !got.includes(m));
  console.log(JSON.stringify({ ok: false, error, missing, recovered: r && r.recovered }));
  process.exit(1);
});
