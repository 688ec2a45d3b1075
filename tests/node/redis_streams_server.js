// The official `socket.io` server with `@socket.io/redis-streams-adapter` (0.3.1, on the `redis`
// 4.x client): one server of a fleet that shares a Redis, for the mixed-fleet tests of our
// streams adapter (cluster/redis/streams.py).
//
// Usage: node redis_streams_server.js '<json>' with
//   {redis: "redis://127.0.0.1:6379", streamName?, channelPrefix?, sessionKeyPrefix?,
//    name?: this server's name (in answers), recovery?: ms (0: off; default 120000),
//    host?: "127.0.0.1", port?: 0}
// Prints "listening on HOST:PORT" once bound, then "uid <uid>" (the "/" adapter's uid).
//
// Its clients' events ("/" and "/admin"):
//   "chat message" (user, msg)     socket.broadcast.emit("chat message", `${msg} from ${user}`)
//   "join" (room) / "leave" (room)  ack(room)
//   "to room" (room, ...args)       io.to(room).emit("room message", ...args)
//   "set data" (data)               socket.data = data; ack(true)
//   "binary" (...args)              socket.broadcast.emit("binary", ...args)
//   "whoami"                        ack({id, server, recovered, rooms})
// Server-side events: "ping" (...args, ack) answers ack(`pong from ${name}`, ...args) and
// reports {"type": "server-side", args} on stdout.
//
// stdin, one JSON command a line, answered by one stdout line {"seq", "result"} or
// {"seq", "error"} (nsp: the namespace, default "/"; room: null for everyone):
//   {"seq", "op": "fetch", room}                     fetchSockets() -> [{id, rooms, data}]
//   {"seq", "op": "join", room, target}              in(room).socketsJoin(target)
//   {"seq", "op": "leave", room, target}             in(room).socketsLeave(target)
//   {"seq", "op": "disconnect", room, close}         in(room).disconnectSockets(close)
//   {"seq", "op": "emit", room, event, args}         to(room).emit(event, ...args)
//   {"seq", "op": "server emit", event, args, ack}   serverSideEmit(event, ...args[, ack])
//   {"seq", "op": "broadcast ack", room, event, args, timeout}   to(room).timeout(ms).emit(...)
//   {"seq", "op": "count"}                            the adapter's serverCount()
// Binary values travel as {"$bin": base64} both ways.
"use strict";

const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");

const config = JSON.parse(process.argv[2] || "{}");
const NAME = config.name || `node-${process.pid}`;
const WINDOW = config.recovery === undefined ? 120000 : config.recovery;

function toJson(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer ? value : new Uint8Array(value)).toString("base64") };
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

async function main() {
  const redisClient = createClient({ url: config.redis || "redis://127.0.0.1:6379" });
  redisClient.on("error", (err) => console.error(`redis: ${err.message}`));
  await redisClient.connect();

  const options = {};
  for (const key of ["streamName", "channelPrefix", "sessionKeyPrefix", "maxLen"]) {
    if (config[key] !== undefined) options[key] = config[key];
  }
  const httpServer = http.createServer((req, res) => {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("Not Found\n");
  });
  const io = new Server(httpServer, {
    adapter: createAdapter(redisClient, options),
    connectionStateRecovery: WINDOW
      ? { maxDisconnectionDuration: WINDOW, skipMiddlewares: true }
      : undefined,
  });

  function install(nsp) {
    nsp.on("connection", (socket) => {
      socket.on("chat message", (user, msg) => {
        socket.broadcast.emit("chat message", `${msg} from ${user}`);
      });
      socket.on("join", (room, ack) => {
        socket.join(room);
        if (ack) ack(room);
      });
      socket.on("leave", (room, ack) => {
        socket.leave(room);
        if (ack) ack(room);
      });
      socket.on("to room", (room, ...args) => nsp.to(room).emit("room message", ...args));
      socket.on("set data", (data, ack) => {
        socket.data = data;
        if (ack) ack(true);
      });
      socket.on("binary", (...args) => socket.broadcast.emit("binary", ...args));
      socket.on("whoami", (ack) =>
        ack({ id: socket.id, server: NAME, recovered: socket.recovered, rooms: [...socket.rooms] }),
      );
    });
    nsp.on("ping", (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      report({ type: "server-side", nsp: nsp.name, args: toJson(args) });
      if (ack) ack(`pong from ${NAME}`);
    });
  }
  install(io.of("/"));
  install(io.of("/admin"));

  function target(cmd) {
    const nsp = io.of(cmd.nsp || "/");
    return cmd.room === null || cmd.room === undefined ? nsp : nsp.in(cmd.room);
  }

  async function run(cmd) {
    const nsp = io.of(cmd.nsp || "/");
    switch (cmd.op) {
      case "fetch": {
        const sockets = await target(cmd).fetchSockets();
        return sockets
          .map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: toJson(s.data) }))
          .sort((a, b) => (a.id < b.id ? -1 : 1));
      }
      case "join":
        target(cmd).socketsJoin(cmd.target);
        return true;
      case "leave":
        target(cmd).socketsLeave(cmd.target);
        return true;
      case "disconnect":
        target(cmd).disconnectSockets(Boolean(cmd.close));
        return true;
      case "emit":
        target(cmd).emit(cmd.event, ...fromJson(cmd.args || []));
        return true;
      case "server emit":
        if (!cmd.ack) {
          nsp.serverSideEmit(cmd.event, ...fromJson(cmd.args || []));
          return true;
        }
        return new Promise((resolve) => {
          nsp.serverSideEmit(cmd.event, ...fromJson(cmd.args || []), (err, responses) =>
            resolve({ error: err ? err.message : null, responses: toJson(responses) }),
          );
        });
      case "broadcast ack":
        return new Promise((resolve) => {
          target(cmd)
            .timeout(cmd.timeout || 2000)
            .emit(cmd.event, ...fromJson(cmd.args || []), (err, responses) =>
              resolve({ error: err ? err.message : null, responses: toJson(responses) }),
            );
        });
      case "count":
        return nsp.adapter.serverCount();
      default:
        throw new Error(`unknown op ${cmd.op}`);
    }
  }

  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    const cmd = JSON.parse(line);
    Promise.resolve()
      .then(() => run(cmd))
      .then(
        (result) => report({ seq: cmd.seq, result }),
        (err) => report({ seq: cmd.seq, error: String(err && err.message ? err.message : err) }),
      );
  });

  function stop() {
    // Closing disconnects every socket ("server shutting down": their sessions are kept, a SET
    // each); QUIT sends what is queued before it.
    io.close();
    redisClient.quit().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000);
  }
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  httpServer.listen(config.port || 0, config.host || "127.0.0.1", () => {
    const { address, port } = httpServer.address();
    console.log(`listening on ${address}:${port}`);
    console.log(`uid ${io.of("/").adapter.uid}`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
