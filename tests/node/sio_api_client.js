// The official `socket.io-client` running a fixed scenario against the app of
// tests/integration/test_sio_node_client.py, reporting each step as a JSON line on stdout.
//
// Usage: node sio_api_client.js URL '<json options>': the client's options (transports, ...) and
// "end": the event that makes the server disconnect the socket at the end ("bye", the default,
// or "bye-close"); "parser": "msgpack" uses socket.io-msgpack-parser. Binary values are reported as {"$bin": base64}. Every line is {"step": name, ...}; the last one is
// {"step": "done"}, or {"step": "error", "message"} when something went wrong (exit code 1).
"use strict";

const { io } = require("socket.io-client");

const url = process.argv[2];
const options = JSON.parse(process.argv[3] || "{}");
const end = options.end || "bye";
delete options.end;
if (options.parser === "msgpack") options.parser = require("socket.io-msgpack-parser");

function toJson(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { $bin: bytes.toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
    return out;
  }
  return value;
}

function report(step, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + "\n");
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

function failAfter(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`no ${what}`)), ms));
}

async function scenario() {
  const socket = io(url, { ...options, auth: { token: "main" }, reconnection: false });
  socket.on("connect_error", (err) => report("main-connect-error", { message: err.message }));
  let upgraded = false;
  socket.io.on("open", () =>
    socket.io.engine.on("upgrade", (transport) => {
      upgraded = true;
      report("upgrade", { transport: transport.name });
    }),
  );
  const welcome = once(socket, "welcome");
  await once(socket, "connect");
  report("connect", { id: socket.id, transport: socket.io.engine.transport.name });
  report("welcome", { args: toJson(await welcome) });

  // client -> server acks: a callback, emitWithAck, an ack sent later, binary both ways
  const callbackArgs = await new Promise((resolve) =>
    socket.emit("echo", 1, "two", { three: [true, null] }, (...args) => resolve(args)),
  );
  report("ack-callback", { args: toJson(callbackArgs) });
  report("emit-with-ack", { value: toJson(await socket.emitWithAck("echo", "first", "second")) });
  report("ack-later", { value: await socket.emitWithAck("echo-later", "patience") });
  const blob = Buffer.from([0, 1, 2, 253, 254, 255]);
  const binaryArgs = await new Promise((resolve) =>
    socket.emit("echo", blob, { nested: [Buffer.from("é")] }, "text", (...args) => resolve(args)),
  );
  report("binary-echo", { args: toJson(binaryArgs) });
  report("types", {
    value: await socket.emitWithAck("types", Buffer.from([1]), new Uint8Array([2, 3]), "s", 4, {
      b: Buffer.from([5]),
    }),
  });

  // a timeout on the client side: the server never answers "no-answer"
  try {
    await socket.timeout(300).emitWithAck("no-answer");
    report("client-timeout", { error: null });
  } catch (err) {
    report("client-timeout", { error: err.message });
  }
  // ... and an ack in time with a timeout set
  report("client-timeout-met", { value: await socket.timeout(5000).emitWithAck("echo", "fast") });

  // server -> client acks: the server asks, the client answers (binary included), the server
  // reports what it got as "answer"
  socket.on("question", (...args) => {
    const ack = args.pop();
    ack("answer to", ...args, Buffer.from([9, 8, 7]));
  });
  const answer = once(socket, "answer");
  socket.emit("ask", "why?", Buffer.from([1, 2]));
  report("answer", { args: toJson(await answer) });
  // the server's own timeout: nobody answers "question-ignored"
  socket.on("question-ignored", () => {});
  const timedOut = once(socket, "timed-out");
  socket.emit("ask-timeout", 200);
  report("server-timeout", { args: await timedOut });

  // a second namespace on the same connection (the Manager is shared): refused first (bad
  // token), then joined with the right one, as documented: set socket.auth, connect again
  const priv = io(url + "/private", { ...options, auth: { token: "wrong" } });
  const [error] = await once(priv, "connect_error");
  report("private-refused", { message: error.message, data: error.data ?? null });
  priv.auth = { token: "s3cret" };
  priv.connect();
  await once(priv, "connect");
  report("private-connect", {
    sameEngine: priv.io === socket.io,
    value: await priv.emitWithAck("whoami"),
  });
  priv.disconnect();

  // where the server thinks we are (after the upgrade, if there is one)
  if (options.transports === undefined && !upgraded) {
    await Promise.race([once(socket.io.engine, "upgrade"), failAfter(5000, "upgrade")]);
  }
  report("whoami", { value: await socket.emitWithAck("whoami") });

  // the server ends it: "io server disconnect", and no reconnection
  const disconnected = once(socket, "disconnect");
  socket.emit(end);
  const [reason] = await disconnected;
  report("disconnect", { reason, active: socket.active });
}

scenario().then(
  () => {
    report("done");
    process.exit(0);
  },
  (err) => {
    report("error", { message: String(err && err.stack ? err.stack : err) });
    process.exit(1);
  },
);
