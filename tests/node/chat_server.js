// The Socket.IO tutorial's chat server, unchanged in protocol, on the official `socket.io`
// package: every "chat message" (user, msg) goes to every *other* client as "<msg> from <user>".
//
// Usage: node chat_server.js. Prints "listening on HOST:PORT" once bound (127.0.0.1, a free
// port); stops on SIGTERM/SIGINT.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("Not Found\n");
});
const io = new Server(httpServer);

io.on("connection", (s) => {
  s.on("chat message", (user, msg) => s.broadcast.emit("chat message", `${msg} from ${user}`));
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
