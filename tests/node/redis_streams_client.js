// The official `socket.io-client` for the Redis Streams recovery tests: recovery_client.js's
// protocol (JSON lines: see there), plus a failover. When its server goes away, the manager
// reconnects to the option "failover" URL instead (what a load balancer in front of a fleet
// does), and the connection state recovery of the fleet gives it its session back.
//
// Usage: node redis_streams_client.js URL '<json options>' (the client's options, plus
// "namespace" (default "/") and "failover": the URL to reconnect to after a disconnect).
// stdout: {"type": "connect", "id", "pid", "recovered", "transport", "url"},
//   {"type": "disconnect", "reason"}, {"type": "connect_error", "message"},
//   {"type": "event", "name", "args"} (the offset, if any, last), {"type": "ack", "seq", "args"},
//   {"type": "state", "id", "pid", "offset", "recovered", "connected"}
// stdin: {"emit": name, "args": [...], "seq"?: n}, {"state": true}, {"close": true}
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

const url = process.argv[2];
const options = JSON.parse(process.argv[3] || "{}");
const namespace = options.namespace || "/";
const failover = options.failover;
delete options.namespace;
delete options.failover;
if (options.parser === "msgpack") options.parser = require("socket.io-msgpack-parser");

function toJson(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer) {
    return { $bin: Buffer.from(value).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
    return out;
  }
  return value;
}

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const socket = io(url + namespace, options);

socket.on("connect", () => {
  report({
    type: "connect",
    id: socket.id,
    pid: socket._pid ?? null,
    recovered: Boolean(socket.recovered),
    transport: socket.io.engine.transport.name,
    url: socket.io.uri,
  });
});
socket.on("disconnect", (reason) => {
  // The manager builds its next Engine.IO connection from its uri: the next server.
  if (failover) socket.io.uri = failover;
  report({ type: "disconnect", reason });
});
socket.on("connect_error", (err) => report({ type: "connect_error", message: err.message }));
socket.onAny((name, ...args) => report({ type: "event", name, args: toJson(args) }));

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.close) leave();
  if (cmd.state) {
    report({
      type: "state",
      id: socket.id ?? null,
      pid: socket._pid ?? null,
      offset: socket._lastOffset ?? null,
      recovered: Boolean(socket.recovered),
      connected: socket.connected,
    });
  }
  if (cmd.emit !== undefined) {
    const args = cmd.args || [];
    if (cmd.seq !== undefined) {
      socket.emit(cmd.emit, ...args, (...answer) =>
        report({ type: "ack", seq: cmd.seq, args: toJson(answer) }),
      );
    } else {
      socket.emit(cmd.emit, ...args);
    }
  }
});
rl.on("close", leave);

function leave() {
  socket.disconnect();
  setTimeout(() => process.exit(0), 100);
}
