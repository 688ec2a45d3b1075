// The official `socket.io-client` from a chosen source address, for the cluster tests.
//
// Usage: node cluster_client.js URL '<json options>'. Options are the client's (transports,
// reconnection, auth, ...), plus "localAddress": the source address of every connection it makes
// (polling requests go through an http.Agent bound to it; the websocket binds it itself).
// engine.io-client in Node opens a new TCP connection per polling request (no keep-alive agent),
// so every request of the session meets the master's dispatch again.
//
// stdout, one JSON object a line:
//   {"type": "open", "transport"}               (the Engine.IO connection opened)
//   {"type": "connect", "id", "transport"}     {"type": "upgrade", "transport"}
//   {"type": "event", "name", "args"}           {"type": "ack", "seq", "args"}
//   {"type": "disconnect", "reason"}            {"type": "connect_error", "message"}
// stdin, one JSON object a line:
//   {"emit": name, "args": [...], "seq": n}     ("seq" asks for an ack, reported as "ack")
//   {"close": true}                             (disconnect, then exit 0)
"use strict";

const http = require("http");
const readline = require("readline");
const { io } = require("socket.io-client");

const url = process.argv[2];
const options = JSON.parse(process.argv[3] || "{}");
const localAddress = options.localAddress;
delete options.localAddress;
if (localAddress) {
  options.transportOptions = {
    polling: { agent: new http.Agent({ localAddress }) },
    websocket: { localAddress },
  };
}

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const socket = io(url, options);

socket.io.on("open", () => {
  const engine = socket.io.engine;
  report({ type: "open", transport: engine.transport.name });
  engine.once("upgrade", (transport) => report({ type: "upgrade", transport: transport.name }));
});
socket.on("connect", () => {
  report({ type: "connect", id: socket.id, transport: socket.io.engine.transport.name });
});
socket.on("disconnect", (reason) => report({ type: "disconnect", reason }));
socket.on("connect_error", (err) => report({ type: "connect_error", message: err.message }));
socket.onAny((name, ...args) => report({ type: "event", name, args }));

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line);
  if (command.close) {
    socket.disconnect();
    process.exit(0);
  }
  if (command.emit) {
    const args = command.args || [];
    if (command.seq !== undefined) {
      socket.emit(command.emit, ...args, (...reply) =>
        report({ type: "ack", seq: command.seq, args: reply }),
      );
    } else {
      socket.emit(command.emit, ...args);
    }
  }
});
process.stdin.on("end", () => process.exit(0));
