// The official `socket.io` server with everything our client's tests exercise.
//
// Usage: node sio_server.js '<json options>'. The JSON holds Server options (pingInterval,
// pingTimeout, transports, ...; "parser": "msgpack" uses socket.io-msgpack-parser). Prints
// "listening on HOST:PORT" once bound (127.0.0.1, a
// free port); stops on SIGTERM/SIGINT.
//
// Main namespace "/" and "/admin" (which refuses a handshake whose auth.token is not "secret"
// with the error message "not authorized" and data {"reason": "bad token"}). On both:
//   "chat message" (user, msg)  -> every other client gets "chat message" "<msg> from <user>"
//   "echo" (...args, ack)       -> ack(...args)                       (client -> server ack)
//   "whoami" (ack)              -> ack({id, engine, nsp, auth, query, transport, recovered,
//                                  rooms})
//   "ask" (...args)             -> emits "question" (...args) with an ack; the client's answer
//                                  comes back as "answer" (...answer) (server -> client ack)
//   "ask-timeout" (ms, ...args) -> like "ask" with socket.timeout(ms); "answer" gets
//                                  (errorMessage | null, ...answer)
//   "join" (room, ack)          -> socket.join(room); ack(room)
//   "ask-room" (room, ms, ...args) -> nsp.to(room).timeout(ms).emit("question", ...args, cb): a
//                                  broadcast with acks; "answers" gets (errorMessage | null,
//                                  responses), one response per client (its first ack argument)
//   "bye"                       -> socket.disconnect() ("io server disconnect")
//   "to-room" (room, ...args)   -> nsp.to(room).emit("news", ...args) (as if from another client)
//   "drop" (room, toRoom, toSelf) -> socket.conn.close() (the client sees "transport close", the
//                                  server "forced close": recoverable), then, the socket gone,
//                                  nsp.to(room).emit("news", toRoom) and
//                                  nsp.to(socket.id).emit("news", toSelf): with
//                                  connectionStateRecovery, the client gets both on reconnection
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const options = JSON.parse(process.argv[2] || "{}");
if (options.parser === "msgpack") options.parser = require("socket.io-msgpack-parser");

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("Not Found\n");
});
const io = new Server(httpServer, options);

function withAck(args) {
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
  return [args, ack];
}

function install(nsp) {
  nsp.on("connection", (socket) => {
    socket.on("chat message", (user, msg) =>
      socket.broadcast.emit("chat message", `${msg} from ${user}`),
    );
    socket.on("echo", (...raw) => {
      const [args, ack] = withAck(raw);
      if (ack) ack(...args);
    });
    socket.on("whoami", (ack) =>
      ack({
        id: socket.id,
        engine: socket.conn.id,
        nsp: nsp.name,
        auth: socket.handshake.auth,
        query: socket.handshake.query,
        transport: socket.conn.transport.name,
        recovered: socket.recovered,
        rooms: [...socket.rooms].sort(),
      }),
    );
    socket.on("ask", (...args) =>
      socket.emit("question", ...args, (...answer) => socket.emit("answer", ...answer)),
    );
    socket.on("ask-timeout", (ms, ...args) =>
      socket.timeout(ms).emit("question", ...args, (err, ...answer) =>
        socket.emit("answer", err ? err.message : null, ...answer),
      ),
    );
    socket.on("join", (room, ack) => {
      socket.join(room);
      ack(room);
    });
    socket.on("ask-room", (room, ms, ...args) =>
      nsp
        .to(room)
        .timeout(ms)
        .emit("question", ...args, (err, responses) =>
          socket.emit("answers", err ? err.message : null, responses),
        ),
    );
    socket.on("bye", () => socket.disconnect());
    socket.on("to-room", (room, ...args) => nsp.to(room).emit("news", ...args));
    socket.on("drop", (room, toRoom, toSelf) => {
      socket.conn.close();
      nsp.to(room).emit("news", toRoom);
      nsp.to(socket.id).emit("news", toSelf);
    });
  });
}

install(io.of("/"));
const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") {
    next();
    return;
  }
  const err = new Error("not authorized");
  err.data = { reason: "bad token" };
  next(err);
});
install(admin);

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
