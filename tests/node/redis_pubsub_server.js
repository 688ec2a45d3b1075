// A Socket.IO server on the official `socket.io` package with the official Redis pub/sub adapter
// (`@socket.io/redis-adapter`, node-redis clients): one member of a fleet that shares a Redis.
//
// Usage: node redis_pubsub_server.js '{"port": 0, "prefix": "socket.io", "redis":
// "redis://127.0.0.1:6379", "requestsTimeout": 5000, "name": "node"}'. Prints
// "listening on HOST:PORT" once bound (127.0.0.1) and its adapter subscribed; stops on
// SIGTERM/SIGINT.
//
// The application, on "/" (and "/other" for namespace isolation):
//   connection                 socket.data = {user: auth.user, server: name}; joins auth.rooms
//   "chat message" (user, msg) socket.broadcast.emit("chat message", `${msg} from ${user}`)
//   "to-room" (room, ...args)  io.to(room).emit("room message", ...args)
//   "join" (room) / "leave"    the socket joins / leaves a room (acknowledged)
//   "fetch" (room|null)        ack: {error, sockets: [{id, rooms, data}]} of io.in(room).fetchSockets()
//   "sockets-join" (target, room) / "sockets-leave" (target, room)   io.in(target).socketsJoin/Leave
//   "disconnect-sockets" (target, close)                             io.in(target).disconnectSockets
//   "server-emit" (event, ...args)   ack: {error, responses} of io.serverSideEmit(event, ...args, cb)
//   "server-emit-noack" (event, ...args)                             io.serverSideEmit(event, ...args)
//   "ask-all" (room|null, ms, ...args)  ack: {error, responses} of io.to(room).timeout(ms).emit("question", ...)
//   "all-rooms"                ack: [...rooms] of adapter.allRooms()
//   "server-count"             ack: adapter.serverCount()
//   "rooms"                    ack: this socket's rooms
// Server-side events (from other servers):
//   "ping-server" (arg, cb)    cb(`pong from ${name}: ${arg}`)
//   "note" (...args)           io.local.emit("note", ...args): to this server's clients
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");

const config = JSON.parse(process.argv[2] || "{}");
const name = config.name || "node";

function install(nsp) {
  nsp.on("ping-server", (arg, cb) => cb(`pong from ${name}: ${arg}`));
  nsp.on("note", (...args) => nsp.local.emit("note", ...args));
  nsp.on("connection", (socket) => {
    const auth = socket.handshake.auth || {};
    socket.data = { user: auth.user || null, server: name };
    for (const room of auth.rooms || []) socket.join(room);
    socket.on("chat message", (user, msg) => {
      socket.broadcast.emit("chat message", `${msg} from ${user}`);
    });
    socket.on("to-room", (room, ...args) => nsp.to(room).emit("room message", ...args));
    socket.on("join", (room, ack) => {
      socket.join(room);
      ack(room);
    });
    socket.on("leave", (room, ack) => {
      socket.leave(room);
      ack(room);
    });
    socket.on("rooms", (ack) => ack([...socket.rooms].sort()));
    socket.on("fetch", async (room, ack) => {
      const target = room ? nsp.in(room) : nsp;
      try {
        const sockets = await target.fetchSockets();
        ack({
          error: null,
          sockets: sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data })),
        });
      } catch (err) {
        ack({ error: err.message, sockets: [] });
      }
    });
    socket.on("sockets-join", (target, room, ack) => {
      nsp.in(target).socketsJoin(room);
      ack();
    });
    socket.on("sockets-leave", (target, room, ack) => {
      nsp.in(target).socketsLeave(room);
      ack();
    });
    socket.on("disconnect-sockets", (target, close, ack) => {
      ack();
      nsp.in(target).disconnectSockets(close);
    });
    socket.on("server-emit", (event, ...rest) => {
      const ack = rest.pop();
      nsp.serverSideEmit(event, ...rest, (err, responses) => {
        ack({ error: err ? err.message : null, responses });
      });
    });
    socket.on("server-emit-noack", (event, ...args) => nsp.serverSideEmit(event, ...args));
    socket.on("ask-all", (room, ms, ...rest) => {
      const ack = rest.pop();
      const target = room ? nsp.to(room) : nsp;
      target.timeout(ms).emit("question", ...rest, (err, responses) => {
        ack({ error: err ? err.message : null, responses });
      });
    });
    socket.on("all-rooms", async (ack) => ack([...(await nsp.adapter.allRooms())].sort()));
    socket.on("server-count", async (ack) => ack(await nsp.adapter.serverCount()));
  });
}

async function main() {
  const pubClient = createClient({ url: config.redis || "redis://127.0.0.1:6379" });
  const subClient = pubClient.duplicate();
  pubClient.on("error", (err) => console.error("redis pub error", err.message));
  subClient.on("error", (err) => console.error("redis sub error", err.message));
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const httpServer = http.createServer((req, res) => {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("Not Found\n");
  });
  const io = new Server(httpServer, {
    adapter: createAdapter(pubClient, subClient, {
      key: config.prefix || "socket.io",
      requestsTimeout: config.requestsTimeout || 5000,
    }),
  });
  install(io.of("/"));
  install(io.of("/other"));

  // Subscribed once PING answers on the subscriber connection (commands are in order).
  await subClient.ping();

  function stop() {
    io.close();
    Promise.allSettled([pubClient.quit(), subClient.quit()]).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  }
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  httpServer.listen(config.port || 0, "127.0.0.1", () => {
    const { address, port } = httpServer.address();
    console.log(`listening on ${address}:${port}`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
