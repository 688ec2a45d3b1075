"""The official Node ``socket.io-client`` against our ``sio.Server``'s generic API.

The server runs in-process (its reactor on a thread) with the app below; ``tests/node/
sio_api_client.js`` runs a fixed scenario in each transport mode and reports every step as a
JSON line, read here with a timeout. What the server saw goes into a queue, read the same way.
The chat with Node clients is ``tests/integration/chat``'s; this covers the server API: return
value and ``ack=`` acknowledgements, acks sent later, ``emitWithAck`` and client timeouts,
server-to-client acks with and without a timeout, binary both ways (``bytes`` here, ``Buffer``
there), an asynchronous middleware refusing with data, two namespaces on one connection, the
transport as the server sees it, and ``socket.disconnect()`` with and without ``close``; with
connection state recovery on (every event the server emits without an ack ends with an offset)
and off (no extra argument); with the JSON parser and with the msgpack one (both ends).
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sio

from .chat.helpers import RECOVERY, recovery_option, strip_offset

pytestmark = pytest.mark.node

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "sio_api_client.js"

#: Seconds any single wait may take.
WAIT = 10.0

MODES: dict[str, list[str] | None] = {
    "default": None,  # polling first, then the upgrade to websocket
    "websocket": ["websocket"],
    "polling": ["polling"],
}


def b64(data: bytes) -> dict[str, str]:
    """A binary value as the Node script reports it."""
    return {"$bin": base64.b64encode(data).decode("ascii")}


# -- the server -----------------------------------------------------------------------------------


def build_app(io: sio.Server, seen: queue.Queue[tuple[Any, ...]]) -> None:
    """What the scenario talks to; ``seen`` gets what the server observed."""

    @io.on("connection")
    def on_connection(socket: sio.Socket) -> None:
        seen.put(("connect", "/", socket.handshake.auth, socket.transport))
        socket.emit("welcome", {"id": socket.id, "auth": socket.handshake.auth, "nsp": "/"})

        @socket.on("echo")
        def echo(*args: Any) -> tuple[Any, ...]:
            return args  # the return value is the ack (a tuple: several arguments)

        @socket.on("echo-later")
        def echo_later(*args: Any, ack: Any) -> None:
            io.reactor.call_later(0.05, lambda: ack(*args))

        @socket.on("no-answer")
        def no_answer(ack: Any) -> None:
            pass  # takes the ack and never calls it: the client's timeout fires

        @socket.on("types")
        def types(*args: Any) -> list[str]:
            seen.put(("types", args))
            return [type(arg).__name__ for arg in args] + [type(args[-1]["b"]).__name__]

        @socket.on("whoami")
        def whoami() -> dict[str, Any]:
            return {"nsp": "/", "transport": socket.transport, "id": socket.id}

        @socket.on("ask")
        def ask(*args: Any) -> None:
            def answered(*answer: Any) -> None:
                seen.put(("answer", answer))
                socket.emit("answer", *answer)

            socket.emit("question", *args, callback=answered)

        @socket.on("ask-timeout")
        def ask_timeout(ms: int) -> None:
            def done(error: BaseException | None, *answer: Any) -> None:
                name = type(error).__name__ if error is not None else None
                socket.emit("timed-out", name, str(error) if error is not None else answer)

            socket.timeout(ms / 1000).emit("question-ignored", callback=done)

        @socket.on("bye")
        def bye() -> None:
            socket.disconnect()

        @socket.on("bye-close")
        def bye_close() -> None:
            socket.disconnect(close=True)

        @socket.on("disconnect")
        def disconnect(reason: str) -> None:
            seen.put(("disconnect", "/", str(reason)))

    private = io.of("/private")

    @private.use
    def check_token(socket: sio.Socket, next_: Any) -> None:
        def decide() -> None:  # an asynchronous middleware: it answers a moment later
            if socket.handshake.auth.get("token") == "s3cret":
                next_()
            else:
                next_(sio.ConnectRefusedError("bad token", {"hint": "ask an admin"}))

        io.reactor.call_later(0.01, decide)

    @private.on("connection")
    def on_private(socket: sio.Socket) -> None:
        seen.put(("connect", "/private", socket.handshake.auth, socket.transport))

        @socket.on("whoami")
        def whoami() -> dict[str, Any]:
            return {"nsp": "/private", "auth": socket.handshake.auth, "id": socket.id}

        @socket.on("disconnect")
        def disconnect(reason: str) -> None:
            seen.put(("disconnect", "/private", str(reason)))


class AppServer:
    """``sio.Server`` with the app, on 127.0.0.1, its reactor running on a thread."""

    def __init__(self, recovery: bool, parser: str = "json") -> None:
        self.seen: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.io = sio.Server(
            ping_interval=5,
            ping_timeout=5,
            connection_state_recovery=recovery_option(recovery),
            parser=parser,
        )
        build_app(self.io, self.seen)
        host, port = self.io.listen("127.0.0.1", 0)
        self.url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.io.run, name="sio-reactor", daemon=True)
        self.thread.start()

    def expect(self, kind: str, nsp: str | None = None) -> tuple[Any, ...]:
        """The next thing the server saw of ``kind`` (in ``nsp``); others are skipped."""
        while True:
            try:
                item = self.seen.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"the server saw no {kind} within {WAIT}s") from None
            if item[0] == kind and (nsp is None or item[1] == nsp):
                return item

    def stop(self) -> None:
        reactor = self.io.reactor
        reactor.call_soon_threadsafe(self.io.close)
        reactor.call_soon_threadsafe(reactor.stop)
        self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive(), "the reactor thread did not stop"
        reactor.close()


@pytest.fixture(params=RECOVERY)
def recovery(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture(params=["json", "msgpack"])
def parser(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app_server(recovery: bool, parser: str) -> Iterator[AppServer]:
    server = AppServer(recovery, parser)
    yield server
    server.stop()


# -- the Node client ------------------------------------------------------------------------------


class NodeScenario:
    """``sio_api_client.js`` as a subprocess; its JSON lines read on a thread into a queue."""

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("needs node on PATH")
        if not (NODE_DIR / "node_modules" / "socket.io-client").is_dir():
            pytest.fail("needs the npm test packages: run `make npm`")
        self.proc = subprocess.Popen(
            [node, str(SCRIPT), url, json.dumps(options)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=NODE_DIR,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stash: dict[str, dict[str, Any]] = {}
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(json.loads(raw))
        self.lines.put(None)

    def expect(self, step: str) -> dict[str, Any]:
        """The line of ``step`` (lines of other steps are kept for later)."""
        while step not in self.stash:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"no {step!r} step within {WAIT}s") from None
            if line is None:
                raise AssertionError(f"the client ended before {step!r}: {self._stderr()}")
            if line["step"] == "error":
                raise AssertionError(f"the client failed: {line['message']}")
            self.stash[line["step"]] = line
        return self.stash.pop(step)

    def _stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=WAIT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code


@pytest.fixture
def run_scenario(app_server: AppServer, parser: str) -> Iterator[Any]:
    started: list[NodeScenario] = []

    def start(options: dict[str, Any]) -> NodeScenario:
        if parser != "json":
            options = {**options, "parser": parser}
        scenario = NodeScenario(app_server.url, options)
        started.append(scenario)
        return scenario

    yield start
    for scenario in started:
        scenario.stop()


# -- the test -------------------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["bye", "bye-close"])
@pytest.mark.parametrize("mode", MODES)
def test_node_client_scenario(
    mode: str,
    end: str,
    recovery: bool,
    app_server: AppServer,
    run_scenario: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The whole scenario; at the end the server disconnects the socket, alone ("bye") or with
    its connection ("bye-close"): either way the client is told, and does not reconnect."""
    caplog.set_level(logging.WARNING)
    transports = MODES[mode]
    options: dict[str, Any] = {"end": end}
    if transports is not None:
        options["transports"] = transports
    client: NodeScenario = run_scenario(options)
    final_transport = "polling" if mode == "polling" else "websocket"

    connect = client.expect("connect")
    if transports is not None:  # (with an upgrade, the probe may overtake the CONNECT reply)
        assert connect["transport"] == transports[0]
    sid = connect["id"]
    welcome = strip_offset(client.expect("welcome")["args"], recovery)
    assert welcome == [{"id": sid, "auth": {"token": "main"}, "nsp": "/"}]
    _, _, auth, transport = app_server.expect("connect", "/")
    assert auth == {"token": "main"}
    if transports is not None:
        assert transport == transports[0]

    # client -> server acks
    assert client.expect("ack-callback")["args"] == [1, "two", {"three": [True, None]}]
    assert client.expect("emit-with-ack")["value"] == "first"
    assert client.expect("ack-later")["value"] == "patience"
    assert client.expect("binary-echo")["args"] == [
        b64(bytes([0, 1, 2, 253, 254, 255])),
        {"nested": [b64("é".encode())]},
        "text",
    ]
    assert client.expect("types")["value"] == ["bytes", "bytes", "str", "int", "dict", "bytes"]
    _, args = app_server.expect("types")
    assert args[:4] == (b"\x01", b"\x02\x03", "s", 4) and args[4] == {"b": b"\x05"}
    assert client.expect("client-timeout")["error"] == "operation has timed out"
    assert client.expect("client-timeout-met")["value"] == "fast"

    # server -> client acks, binary included, and the server's timeout; the server asks with
    # an ack id (no offset), and emits what it got without one (an offset)
    assert strip_offset(client.expect("answer")["args"], recovery) == [
        "answer to",
        "why?",
        b64(b"\x01\x02"),
        b64(b"\x09\x08\x07"),
    ]
    _, answer = app_server.expect("answer")
    assert answer == ("answer to", "why?", b"\x01\x02", b"\x09\x08\x07")
    timed_out = strip_offset(client.expect("server-timeout")["args"], recovery)
    assert timed_out == ["AckTimeoutError", "operation has timed out"]

    # a second namespace on the same connection: refused with data, then joined
    refused = client.expect("private-refused")
    assert refused == {
        "step": "private-refused",
        "message": "bad token",
        "data": {"hint": "ask an admin"},
    }
    joined = client.expect("private-connect")
    assert joined["sameEngine"] is True
    assert joined["value"]["nsp"] == "/private"
    assert joined["value"]["auth"] == {"token": "s3cret"}
    assert joined["value"]["id"] != sid
    assert app_server.expect("connect", "/private")[2] == {"token": "s3cret"}
    assert app_server.expect("disconnect", "/private")[2] == "client namespace disconnect"

    if mode == "default":
        assert client.expect("upgrade")["transport"] == "websocket"
    assert client.expect("whoami")["value"] == {
        "nsp": "/",
        "transport": final_transport,
        "id": sid,
    }

    # socket.disconnect([close]): the client is told, and does not come back
    assert client.expect("disconnect") == {
        "step": "disconnect",
        "reason": "io server disconnect",
        "active": False,
    }
    assert app_server.expect("disconnect", "/")[2] == "server namespace disconnect"
    client.expect("done")
    assert client.proc.wait(timeout=WAIT) == 0

    ours = [r for r in caplog.records if r.name.split(".")[0] in ("eio", "sio")]
    assert not [r for r in ours if r.levelno >= logging.ERROR or r.exc_info], ours
