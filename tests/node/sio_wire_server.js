// The official Node `socket.io` server running the Socket.IO wire suite's app, configured from
// the same JSON as tests/protocol/wire/servers/sio_server.py (ours).
//
// Usage: node sio_wire_server.js '<json config>'. Prints "listening on HOST:PORT" once bound
// (127.0.0.1, a free port); stops on SIGTERM/SIGINT. Config keys: path, pingInterval,
// pingTimeout, upgradeTimeout, connectTimeout (ms), maxHttpBufferSize, maxAttachments,
// transports, cors.
//
// The app (the same in both servers):
//   "/", "/custom" and "/dyn-<digits>": on connection emit "auth" (handshake auth), then
//     "message" (...args)            -> emit "message-back" (...args)
//     "message-with-ack" (...args)   -> ack(...args)
//     "join" (room)                  -> join it, ack()
//     "to-room" (room(s), ...args)   -> socket.to(room(s)).emit("room-message", ...args)
//     "broadcast" (...args)          -> socket.broadcast.emit("broadcast-message", ...args)
//     "io-emit" (...args)            -> the whole namespace, sender included: "io-message"
//     "emit-with-ack" (...args)      -> emit "server-ack-request" (...args) with an ack; the
//                                       client's answer comes back as "server-ack-response"
//     "server-disconnect"            -> socket.disconnect()
//     "server-close"                 -> socket.disconnect(true)
//   "/refused": a middleware refuses every connection: "not authorized", data {code: 42}
//   "/observer": gets "observed-disconnect" (namespace, reason, socket id) whenever a socket of
//     "/" or "/custom" disconnects
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const parser = require("socket.io-parser");

const config = JSON.parse(process.argv[2] || "{}");

const opts = { path: config.path || "/socket.io/" };
for (const key of [
  "pingInterval",
  "pingTimeout",
  "upgradeTimeout",
  "connectTimeout",
  "maxHttpBufferSize",
  "transports",
]) {
  if (key in config) opts[key] = config[key];
}
if (config.cors) opts.cors = config.cors;
if ("maxAttachments" in config) {
  // The parser's limit is a Decoder option; the server builds its decoders without options.
  const maxAttachments = config.maxAttachments;
  class Decoder extends parser.Decoder {
    constructor() {
      super({ maxAttachments });
    }
  }
  opts.parser = { ...parser, Decoder };
}

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("Not Found\n");
});
const io = new Server(httpServer, opts);
const observer = io.of("/observer");

function withAck(args) {
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
  return [args, ack];
}

function setup(socket, observed) {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...raw) => {
    const [args, ack] = withAck(raw);
    if (ack) ack(...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("to-room", (room, ...args) => socket.to(room).emit("room-message", ...args));
  socket.on("broadcast", (...args) => socket.broadcast.emit("broadcast-message", ...args));
  socket.on("io-emit", (...args) => socket.nsp.emit("io-message", ...args));
  socket.on("emit-with-ack", (...args) =>
    socket.emit("server-ack-request", ...args, (...answer) =>
      socket.emit("server-ack-response", ...answer),
    ),
  );
  socket.on("server-disconnect", () => socket.disconnect());
  socket.on("server-close", () => socket.disconnect(true));
  if (observed) {
    socket.on("disconnect", (reason) =>
      observer.emit("observed-disconnect", socket.nsp.name, reason, socket.id),
    );
  }
}

io.of("/").on("connection", (socket) => setup(socket, true));
io.of("/custom").on("connection", (socket) => setup(socket, true));
io.of(/^\/dyn-\d+$/).on("connection", (socket) => setup(socket, false));
io.of("/refused").use((socket, next) => {
  const err = new Error("not authorized");
  err.data = { code: 42 };
  next(err);
});

function stop() {
  io.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

httpServer.listen(0, "127.0.0.1", () => {
  const { address, port } = httpServer.address();
  console.log(`listening on ${address}:${port}`);
});
