// The official Node `engine.io` server, configured from the same JSON as our
// tests/protocol/wire/servers/eio_server.py, echoing every message.
//
// Usage: node eio_server.js '<json config>'. Prints "listening on HOST:PORT" once bound
// (127.0.0.1, a free port); requests outside the Engine.IO path get 404.
"use strict";

const http = require("http");
const { Server } = require("engine.io");

const config = JSON.parse(process.argv[2] || "{}");

const opts = {};
for (const key of [
  "pingInterval",
  "pingTimeout",
  "upgradeTimeout",
  "maxHttpBufferSize",
  "transports",
  "allowUpgrades",
]) {
  if (key in config) opts[key] = config[key];
}
if ("httpCompression" in config) {
  // false, or an object of zlib options with a threshold
  opts.httpCompression = config.httpCompression === true ? { threshold: 1024 } : config.httpCompression;
}
opts.perMessageDeflate = Boolean(config.perMessageDeflate);
if (config.cors) {
  const credentials = Boolean(config.cors.credentials);
  // Our server answers "*" with the request's origin when credentials are allowed (a browser
  // refuses "*" with credentials); the cors package does that with `origin: true`.
  let origin = config.cors.origin;
  if (origin === "*" && credentials) origin = true;
  opts.cors = { origin, credentials };
}
if (config.allowRequest) {
  const header = config.allowRequest.denyHeader.toLowerCase();
  const message = config.allowRequest.message || "Forbidden";
  opts.allowRequest = (req, callback) => {
    if (req.headers[header] !== undefined) callback(message, false);
    else callback(null, true);
  };
}

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("Not Found\n");
});

const engine = new Server(opts);
engine.attach(httpServer, { path: config.path || "/engine.io/" });

engine.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

function stop() {
  engine.close();
  httpServer.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

httpServer.listen(0, "127.0.0.1", () => {
  const { address, port } = httpServer.address();
  console.log(`listening on ${address}:${port}`);
});
