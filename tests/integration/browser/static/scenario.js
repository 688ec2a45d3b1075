// The browser side of the interop tests: socket.io-client's official bundle (global `io`)
// against the server that served this page. The driver calls `runScenario(params)` and gets
// back what the clients observed; the Python test asserts on it. Every wait ends within WAIT ms
// (a timeout is reported as `error`, with the step it happened in).
//
// Events are recorded with all their arguments: with connection state recovery on, the server
// adds an offset as the last one (the test checks it is there, or, with recovery off, that
// nothing was added).
"use strict";

const WAIT = 5000;

// Logged before the first transport is closed on purpose. Past it, a polling GET sent just
// before the close packet's POST may reach the server after it: "Session ID unknown", 400, and
// the browser logs that response as an error. Node answers the same; the test allows it.
const CLOSING = "scenario: closing transports";

// -- waiting ----------------------------------------------------------------------------------

const waiters = new Set();

// Resolves once `predicate()` holds (checked now and after every recorded client event).
function waitUntil(predicate, label, ms = WAIT) {
  return new Promise((resolve, reject) => {
    if (predicate()) {
      resolve();
      return;
    }
    const waiter = { predicate, resolve };
    waiter.timer = setTimeout(() => {
      waiters.delete(waiter);
      reject(new Error(`timeout (${ms} ms) waiting for ${label}`));
    }, ms);
    waiters.add(waiter);
  });
}

function notify() {
  for (const waiter of [...waiters]) {
    if (waiter.predicate()) {
      waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }
}

// -- values as JSON ---------------------------------------------------------------------------

// Binary values become {$type, bytes} so that the test sees what type the client produced.
function describe(value) {
  if (value instanceof ArrayBuffer) {
    return { $type: "ArrayBuffer", bytes: Array.from(new Uint8Array(value)) };
  }
  if (ArrayBuffer.isView(value)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return { $type: value.constructor.name, bytes: Array.from(bytes) };
  }
  if (typeof Blob !== "undefined" && value instanceof Blob) {
    return { $type: "Blob", size: value.size };
  }
  if (Array.isArray(value)) return value.map(describe);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describe(v)]));
  }
  return value;
}

// Whether one of the recorded events (each its list of arguments) starts with `text`.
function has(events, text) {
  return events.some((args) => args[0] === text);
}

function sameBytes(expected, actual) {
  if (!(actual instanceof ArrayBuffer)) return false;
  const got = new Uint8Array(actual);
  if (got.length !== expected.length) return false;
  for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) return false;
  return true;
}

// `socket.emit(event, ...args, callback)` as a promise of every argument of the ack.
function emitWithAckArgs(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(WAIT).emit(event, ...args, (err, ...answer) => {
      if (err) reject(err);
      else resolve(answer);
    });
  });
}

// -- clients ----------------------------------------------------------------------------------

// A client that records everything it sees. `url` null: the page's own origin, `io(options)`.
function makeClient(name, url, options) {
  const opts = {
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 300,
    timeout: WAIT,
    auth: { user: name },
    ...options,
  };
  const socket = url ? io(url, opts) : io(opts);
  const c = {
    name,
    socket,
    connects: 0,
    messages: [],
    notices: [],
    binaries: [],
    opens: [],
    upgrades: [],
    disconnects: [],
    connectErrors: [],
  };
  const record = (list, value) => {
    list.push(value);
    notify();
  };
  socket.on("connect", () => {
    c.connects += 1;
    notify();
  });
  socket.on("connect_error", (err) => record(c.connectErrors, err.message));
  socket.on("disconnect", (reason) => record(c.disconnects, reason));
  socket.on("chat message", (...args) => record(c.messages, args));
  socket.on("notice", (...args) => record(c.notices, args));
  socket.on("binary", (...args) => record(c.binaries, describe(args)));
  // A new Engine.IO connection for each (re)connection: note its first transport and upgrades.
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    record(c.opens, engine.transport.name);
    engine.on("upgrade", (transport) => record(c.upgrades, transport.name));
  });
  return c;
}

// -- scenarios --------------------------------------------------------------------------------

// Three chat clients in one transport mode: connect, chat, acks, binary, reconnect, leave.
async function chat({ url = null, transports = null, options = {} }) {
  const r = {};
  if (transports) options = { ...options, transports };
  const [A, B, C] = ["A", "B", "C"].map((name) => makeClient(name, url, options));
  const all = [A, B, C];
  const upgrading = transports === null; // the default: polling, then the websocket upgrade
  let step = "connect";
  try {
    await waitUntil(() => all.every((c) => c.socket.connected), "A, B and C to connect");
    r.ids = Object.fromEntries(all.map((c) => [c.name, c.socket.id]));
    r.openTransports = all.map((c) => c.opens[0]);

    // At once, while default clients may still be upgrading.
    step = "early message";
    A.socket.emit("chat message", "A", "early");
    await waitUntil(
      () => [B, C].every((c) => has(c.messages, "early from A")),
      "'early from A' at B and C",
    );

    step = "upgrade";
    if (upgrading) {
      await waitUntil(() => all.every((c) => c.upgrades.length > 0), "the upgrades");
    }
    r.upgrades = all.map((c) => [...c.upgrades]);
    r.transports = all.map((c) => c.socket.io.engine.transport.name);

    step = "chat";
    A.socket.emit("chat message", "A", "hello");
    await waitUntil(
      () => [B, C].every((c) => has(c.messages, "hello from A")),
      "'hello from A' at B and C",
    );
    B.socket.emit("chat message", "B", "hi");
    await waitUntil(
      () => [A, C].every((c) => has(c.messages, "hi from B")),
      "'hi from B' at A and C",
    );
    r.messages = Object.fromEntries(all.map((c) => [c.name, [...c.messages]]));

    step = "server view";
    r.server = await Promise.all(
      all.map((c) => c.socket.timeout(WAIT).emitWithAck("server-info")),
    );

    step = "acks";
    r.ackObject = await A.socket.timeout(WAIT).emitWithAck("echo", {
      text: "ping",
      numbers: [1, 2.5, -3, 0],
      nested: { ok: true, none: null },
      unicode: "héllo ✓ 🚀",
    });
    r.ackArgs = await emitWithAckArgs(B.socket, "echo", "a", 1, true, null);

    step = "binary";
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    r.binaryEcho = describe(await A.socket.timeout(WAIT).emitWithAck("binary-echo", bytes));
    r.binaryArgs = describe(
      await emitWithAckArgs(C.socket, "binary-echo", "label", bytes.buffer.slice(0, 3), {
        nested: [new Uint8Array([4, 5]), "text"],
      }),
    );
    const big = Uint8Array.from({ length: 200000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
    const bigBack = await B.socket.timeout(WAIT).emitWithAck("binary-echo", big);
    r.bigEcho = {
      type: Object.prototype.toString.call(bigBack),
      length: bigBack.byteLength,
      equal: sameBytes(big, bigBack),
    };
    C.socket.emit("binary-relay", "C", new Uint8Array([9, 8, 7]));
    await waitUntil(
      () => A.binaries.length > 0 && B.binaries.length > 0,
      "the relayed binary at A and B",
    );
    r.relayed = { A: [...A.binaries], B: [...B.binaries], C: [...C.binaries] };

    // The network drops B's connection: it reconnects by itself and chats again. With
    // connection state recovery on, it comes back as the same socket (same id, `recovered`),
    // with what it missed meanwhile; with it off, as a new socket.
    step = "reconnect";
    for (const c of all) {
      c.messages.length = 0;
      c.notices.length = 0;
    }
    const connectsBefore = B.connects;
    const opensBefore = B.opens.length;
    const upgradesBefore = B.upgrades.length;
    // From here on, a poll that crosses the close on the wire may get 400 (see CLOSING).
    console.info(CLOSING);
    B.socket.io.engine.close();
    await waitUntil(() => B.socket.connected && B.connects > connectsBefore, "B to reconnect");
    if (upgrading) {
      await waitUntil(() => B.upgrades.length > upgradesBefore, "B's upgrade after reconnecting");
    }
    r.reconnect = {
      id: B.socket.id,
      // (the client leaves it undefined when the server does not do recovery)
      recovered: B.socket.recovered === true,
      disconnects: [...B.disconnects],
      connects: B.connects,
      opens: B.opens.slice(opensBefore),
      upgrades: B.upgrades.slice(upgradesBefore),
      transport: B.socket.io.engine.transport.name,
    };
    await waitUntil(
      () => [A, C].every((c) => has(c.notices, "B joined")),
      "'B left' and 'B joined' at A and C",
    );
    r.reconnect.notices = { A: [...A.notices], B: [...B.notices], C: [...C.notices] };
    A.socket.emit("chat message", "A", "again");
    await waitUntil(
      () => [B, C].every((c) => has(c.messages, "again from A")),
      "'again from A' at B and C",
    );
    B.socket.emit("chat message", "B", "back");
    await waitUntil(
      () => [A, C].every((c) => has(c.messages, "back from B")),
      "'back from B' at A and C",
    );
    r.afterReconnect = Object.fromEntries(all.map((c) => [c.name, [...c.messages]]));

    // A and B leave; C hears of it from the server.
    step = "leave";
    C.notices.length = 0;
    A.socket.disconnect();
    B.socket.disconnect();
    await waitUntil(
      () => has(C.notices, "A left") && has(C.notices, "B left"),
      "'A left' and 'B left' at C",
    );
    r.leaveNotices = [...C.notices];
    C.socket.disconnect();
    r.disconnects = Object.fromEntries(all.map((c) => [c.name, [...c.disconnects]]));
  } catch (err) {
    r.error = `${step}: ${err && err.message ? err.message : err}`;
  } finally {
    for (const c of all) c.socket.disconnect();
    r.connectErrors = Object.fromEntries(all.map((c) => [c.name, c.connectErrors]));
  }
  return r;
}

// One client that tries once (no reconnection): did it connect, or why not?
async function probe({ url = null, transports = null, options = {} }) {
  options = { reconnection: false, auth: { user: "probe" }, ...options };
  if (transports) options.transports = transports;
  const c = makeClient("probe", url, options);
  const r = {};
  try {
    await waitUntil(
      () => c.socket.connected || c.connectErrors.length > 0,
      "connect or connect_error",
    );
    r.connected = c.socket.connected;
    r.connectErrors = [...c.connectErrors];
    r.opens = [...c.opens];
    if (r.connected) {
      if (transports === null) {
        await waitUntil(() => c.upgrades.length > 0, "the upgrade");
      }
      r.upgrades = [...c.upgrades];
      r.transport = c.socket.io.engine.transport.name;
      r.echo = await c.socket.timeout(WAIT).emitWithAck("echo", "across origins");
      r.server = await c.socket.timeout(WAIT).emitWithAck("server-info");
    }
  } catch (err) {
    r.error = err && err.message ? err.message : String(err);
  } finally {
    c.socket.disconnect();
  }
  return r;
}

const SCENARIOS = { chat, probe };

window.runScenario = async (params) => {
  const scenario = SCENARIOS[params.scenario];
  if (!scenario) return { error: `no scenario ${params.scenario}` };
  return scenario(params);
};
