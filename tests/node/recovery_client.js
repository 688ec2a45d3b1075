// The official `socket.io-client` for the connection state recovery tests, driven by JSON lines
// on stdin, reporting JSON lines on stdout (the protocol of sio_client.js, plus the recovery
// state and the commands that drop and restore the connection).
//
// Usage: node recovery_client.js URL '<json options>'. Options are the client's (transports,
// reconnection, reconnectionDelay, ...), plus "namespace" (default "/"). Binary values travel
// as {"$bin": base64}.
//
// stdout, one JSON object a line:
//   {"type": "connect", "id", "pid", "recovered", "transport"}
//   {"type": "disconnect", "reason"}            {"type": "connect_error", "message"}
//   {"type": "event", "name", "args"}           (args as received: the offset, if any, last)
//   {"type": "ack", "seq", "args"}              {"type": "upgrade", "transport"}
//   {"type": "state", "id", "pid", "offset", "recovered", "connected"}
// stdin, one JSON object a line:
//   {"emit": name, "args": [...], "seq": n}     ("seq" asks for an ack, reported as "ack")
//   {"drop": true}      the transport goes away: socket.io.engine.close() (the manager then
//                       reconnects by itself, unless the option "reconnection" is false)
//   {"connect": true}   socket.connect() (after a drop without automatic reconnection)
//   {"disconnect": true} socket.disconnect(): a voluntary disconnect
//   {"state": true}     report the client's recovery state (pid, last offset seen)
//   {"close": true}     disconnect, then exit 0
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

const url = process.argv[2];
const options = JSON.parse(process.argv[3] || "{}");
const namespace = options.namespace || "/";
delete options.namespace;

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

socket.io.on("open", () => {
  socket.io.engine.on("upgrade", (transport) =>
    report({ type: "upgrade", transport: transport.name }),
  );
});
socket.on("connect", () => {
  report({
    type: "connect",
    id: socket.id,
    pid: socket._pid ?? null,
    recovered: Boolean(socket.recovered),
    transport: socket.io.engine.transport.name,
  });
});
socket.on("disconnect", (reason) => report({ type: "disconnect", reason }));
socket.on("connect_error", (err) => report({ type: "connect_error", message: err.message }));
socket.onAny((name, ...args) => report({ type: "event", name, args: toJson(args) }));

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.close) leave();
  if (cmd.drop) socket.io.engine.close();
  if (cmd.connect) socket.connect();
  if (cmd.disconnect) socket.disconnect();
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
