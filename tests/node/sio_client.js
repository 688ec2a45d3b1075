// The official `socket.io-client`, driven by JSON lines on stdin, reporting JSON lines on stdout.
//
// Usage: node sio_client.js URL '<json options>'. Options are the client's (transports, auth,
// reconnection, ...), plus "namespace" (default "/"); "parser": "msgpack" uses
// socket.io-msgpack-parser. Binary values travel as {"$bin": base64} both ways.
//
// stdout, one JSON object a line:
//   {"type": "connect", "id", "transport"}     {"type": "upgrade", "transport"}
//   {"type": "event", "name", "args"}           {"type": "ack", "seq", "args"}
//   {"type": "disconnect", "reason"}            {"type": "connect_error", "message", "data"}
// stdin, one JSON object a line:
//   {"emit": name, "args": [...], "seq": n}     ("seq" asks for an ack, reported as "ack")
//   {"close": true}                             (disconnect, then exit 0)
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

const url = process.argv[2];
const options = JSON.parse(process.argv[3] || "{}");
const namespace = options.namespace || "/";
delete options.namespace;
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

function fromJson(value) {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string") return Buffer.from(value.$bin, "base64");
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromJson(v);
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
  report({ type: "connect", id: socket.id, transport: socket.io.engine.transport.name });
});
socket.on("disconnect", (reason) => report({ type: "disconnect", reason }));
socket.on("connect_error", (err) =>
  report({ type: "connect_error", message: err.message, data: toJson(err.data ?? null) }),
);
socket.onAny((name, ...args) => {
  const last = args[args.length - 1];
  if (typeof last === "function") {
    // The server wants an ack: answer with what we got.
    args.pop();
    last(...args);
  }
  report({ type: "event", name, args: toJson(args) });
});

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.close) leave();
  if (cmd.emit !== undefined) {
    const args = fromJson(cmd.args || []);
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
  // Give the goodbye (DISCONNECT, then the Engine.IO CLOSE) a moment to leave.
  socket.disconnect();
  setTimeout(() => process.exit(0), 100);
}
