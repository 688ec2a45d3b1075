// Connection state recovery in the cluster, for emits to ONE socket and to a room it joined by a
// cluster-wide operation, sent by another worker while the socket is away (its transport closed,
// or its worker killed). Runs against tests/integration/cluster_app.py (its "room-join" and
// "to-room" events; "to-room" with a socket id is an emit to that socket alone).
//
// Usage: node cluster_recovery_direct.js '<json>' with
//   {url, transports, mode: "drop" | "kill", recovering: IP, sender: IP, killPid?}
// Prints one JSON line: {ok, error?, recovered, sameId, got}.
"use strict";

const http = require("http");
const { io } = require("socket.io-client");

const params = JSON.parse(process.argv[2]);
const WAIT = 10000;

function client(ip) {
  return io(params.url, {
    forceNew: true,
    transports: params.transports || undefined,
    reconnectionDelay: 100,
    reconnectionDelayMax: 300,
    agent: new http.Agent({ localAddress: ip }),
    localAddress: ip,
  });
}

function until(predicate, label) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > WAIT) return reject(new Error(`timeout waiting for ${label}`));
      setTimeout(check, 10);
    };
    check();
  });
}

const got = [];
let r;

async function main() {
  r = client(params.recovering);
  const s = client(params.sender);
  r.on("msg", (worker, payload) => got.push(payload));
  await until(() => r.connected && s.connected, "both clients to connect");
  const id = r.id;
  await s.emitWithAck("room-join", id, "mine");
  await s.emitWithAck("to-room", id, "hello");
  await until(() => got.includes("hello"), "the first message (an offset)");
  let back = false;
  r.on("connect", () => (back = true));
  if (params.mode === "kill") process.kill(params.killPid, "SIGKILL");
  else r.io.engine.close();
  await until(() => !r.connected, "R to notice the drop");
  await s.emitWithAck("to-room", id, "direct 1");
  await s.emitWithAck("to-room", "mine", "room 1");
  await s.emitWithAck("to-room", id, "direct 2");
  await until(() => back, "R to reconnect");
  await s.emitWithAck("to-room", "mine", "after");
  await until(() => got.includes("after"), "the message sent after the reconnect");
  console.log(JSON.stringify({ ok: true, recovered: r.recovered, sameId: r.id === id, got }));
  r.disconnect();
  s.disconnect();
  process.exit(0);
}

main().catch((err) => {
  const error = String(err && err.message ? err.message : err);
  console.log(JSON.stringify({ ok: false, error, got, recovered: r && r.recovered }));
  process.exit(1);
});
