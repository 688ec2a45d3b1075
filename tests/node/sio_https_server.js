// The official `socket.io` server over https (Node's `https.createServer({key, cert})`): the
// chat's "chat message" broadcast and an "echo" ack, for our client's TLS tests.
//
// Usage: node sio_https_server.js '{"key": KEYFILE, "cert": CERTFILE}'. Prints "listening on HOST:PORT" once bound
// (127.0.0.1, a free port); stops on SIGTERM/SIGINT.
"use strict";

const fs = require("fs");
const https = require("https");
const { Server } = require("socket.io");

const files = JSON.parse(process.argv[2]);
const httpsServer = https.createServer({
  key: fs.readFileSync(files.key),
  cert: fs.readFileSync(files.cert),
});
const io = new Server(httpsServer);

io.on("connection", (socket) => {
  socket.on("chat message", (user, msg) =>
    socket.broadcast.emit("chat message", `${msg} from ${user}`),
  );
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
});

httpsServer.listen(0, "127.0.0.1", () => {
  const { address, port } = httpsServer.address();
  console.log(`listening on ${address}:${port}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    httpsServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
