"""Connection state recovery end to end, one server process (``sio.Server(connection_state_
recovery=...)``, in-process on a reactor thread, on 127.0.0.1 port 0).

- **The official client**: ``tests/node/recovery_client.js`` (socket.io-client 4.8.1) joins
  rooms, loses its transport (``socket.io.engine.close()``) while the server sends to one of its
  rooms, to the socket itself and to everyone, then comes back: ``recovered`` is true, the id and
  the rooms and ``data`` are the same, and every missed event arrives once, in order, each with
  its offset, before the live ones. In each transport mode (polling only, websocket only,
  polling then upgrade), both with the client's own reconnection (the server sends the missed
  events from its ``disconnect`` handler) and with a reconnection the test starts itself once
  the server has seen the disconnect (the test sends them meanwhile). With recovery off: no
  offsets on the wire, never recovered.
- **Abuse**, over raw Engine.IO clients (``tests/protocol/wire``): a forged, replayed, expired,
  malformed or unknown pid or offset, or a pid presented to another namespace, gets a fresh
  session (new sid, new pid, not recovered, none of the victim's packets), the victim's session
  stays restorable unless it really was used, and the server stays alive, even after a flood of
  500 CONNECTs with stale pids.
- **Memory**: 10 000 sessions that leave and never come back, kept by a real server's adapter;
  ``tracemalloc`` measures them (a bound per session), and after the window they are pruned and
  the memory is given back. A real server's pruning timer also empties the store by itself.

Every wait has a deadline; nothing sleeps.
"""

from __future__ import annotations

import gc
import json
import logging
import queue
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from protocol.wire.helpers import Server as WireServer
from protocol.wire.sio_helpers import (
    Engine,
    Message,
    PollingEngine,
    WsEngine,
    dumps,
    event,
    open_engine,
    parse_packet,
    prefix,
)

import sio
import sio.adapter
from eio import generate_sid
from sio.protocol.packet import Packet, PacketType
from sio.protocol.recovery import Session, generate_pid

from .chat.helpers import NODE_DIR, WAIT, NodeClient, Process, ServerHandle, node, start_server

SCRIPT = NODE_DIR / "recovery_client.js"

MODES: dict[str, list[str] | None] = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "default": None,  # polling first, then the upgrade to websocket
}

#: The client reconnects by itself, quickly.
AUTO = {"reconnectionDelay": 50, "reconnectionDelayMax": 100}

#: The events the server sends while the client is away, in order, and those of them that the
#: client must get back (the others are for rooms it is not in, volatile, or another namespace).
MISSED = ["to-room", "to-me", "binary", "to-all"]


# -- the server -----------------------------------------------------------------------------------


class App:
    """The application of every test, on ``/`` and ``/other``; what it sees goes to ``seen``."""

    def __init__(self, io: sio.Server) -> None:
        self.io = io
        self.seen: queue.Queue[tuple[Any, ...]] = queue.Queue()
        #: The last socket object of each id (a restored socket is a new object, same id).
        self.sockets: dict[str, sio.Socket] = {}
        #: Run by the ``disconnect`` handler, before it reports the disconnect.
        self.on_disconnect: Callable[[sio.Socket], None] | None = None
        for name in ("/", "/other"):
            self._install(io.of(name))

    def _install(self, nsp: sio.Namespace) -> None:
        @nsp.on("connection")
        def on_connection(socket: sio.Socket) -> None:
            self.sockets[socket.id] = socket
            self.seen.put(("connect", nsp.name, socket.id, socket.recovered, socket.pid))
            # The first event: the client's first offset (with recovery on).
            socket.emit("welcome", nsp.name, socket.recovered)

            @socket.on("join")
            def join(*rooms: str) -> list[str]:
                socket.join(rooms)
                return sorted(socket.rooms)

            @socket.on("set")
            def set_data(key: str, value: Any) -> bool:
                socket.data[key] = value
                return True

            @socket.on("info")
            def info() -> dict[str, Any]:
                return {
                    "id": socket.id,
                    "nsp": nsp.name,
                    "rooms": sorted(socket.rooms),
                    "recovered": socket.recovered,
                    "data": socket.data,
                    "auth": socket.handshake.auth,
                }

            @socket.on("echo")
            def echo(*args: Any) -> tuple[Any, ...]:
                return args

            @socket.on("volatile")
            def volatile() -> None:
                socket.volatile.emit("volatile", 1)

            @socket.on("disconnect")
            def disconnect(reason: str) -> None:
                if self.on_disconnect is not None:
                    self.on_disconnect(socket)
                self.seen.put(("disconnect", nsp.name, socket.id, str(reason)))

    def expect(self, kind: str, sid: str | None = None, timeout: float = WAIT) -> tuple[Any, ...]:
        """The next thing the server saw of ``kind`` (for socket ``sid``); others are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.seen.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the server saw no {kind} {sid} within {timeout}s") from None
            if item[0] == kind and (sid is None or item[2] == sid):
                return item


def send_missed(io: sio.Server, socket: sio.Socket) -> None:
    """What the server sends while ``socket`` (in room1, not in room-x) is away; the client must
    get back MISSED, in this order."""
    io.to("room1").emit("to-room", 1)
    io.to("room-x").emit("other-room", 0)  # not one of its rooms
    io.except_("room1").emit("not-to-room1", 0)  # its room is excluded
    socket.emit("to-me", 2)
    io.of("/other").emit("other-nsp", 0)  # another namespace
    io.to("room1").emit("binary", b"\x00\x01\xff")
    io.volatile.emit("volatile-all", 0)  # volatile: dropped, not kept
    io.emit("to-all", 3)


@dataclass
class Running:
    server: ServerHandle
    app: App

    @property
    def io(self) -> sio.Server:
        return self.server.io

    @property
    def wire(self) -> WireServer:
        """This server as the raw wire clients know servers."""
        return WireServer("ours", self.server.host, self.server.port, {"path": "/socket.io/"})

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.server.loop.call(fn, *args)

    def store_counts(self, nsp: str = "/") -> tuple[int, int]:
        """(sessions kept, packets logged) of ``nsp``'s recovery store, read on the server's
        loop (directly when called there, as by ``wait_until``)."""

        def counts() -> tuple[int, int]:
            store = self.io.of(nsp).adapter.store  # type: ignore[attr-defined]
            return store.session_count, len(store)

        if threading.current_thread() is self.server.loop.thread:
            return counts()
        result: tuple[int, int] = self.call(counts)
        return result

    def wait_until(self, predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        """Check ``predicate`` on the server's loop until it holds (every 10 ms of its clock)."""
        done = threading.Event()
        given_up = threading.Event()
        reactor = self.io.reactor

        def check() -> None:
            if given_up.is_set():
                return
            if predicate():
                done.set()
            else:
                reactor.call_later(0.01, check)

        self.server.loop.soon(check)
        ok = done.wait(timeout)
        given_up.set()
        assert ok, f"not within {timeout}s: {what}"

    def after(self, seconds: float) -> None:
        """Wait until ``seconds`` have passed on the server's clock (a timer there)."""
        fired = threading.Event()
        self.call(self.io.reactor.call_later, seconds, fired.set)
        assert fired.wait(WAIT + seconds), "the server's timer did not fire"


@pytest.fixture
def start() -> Iterator[Callable[..., Running]]:
    """``start(**sio.Server options)``: the app on an in-process server, stopped at the end."""
    started: list[ServerHandle] = []

    def make(**options: Any) -> Running:
        apps: list[App] = []
        server = start_server(chat=False, setup=lambda io: apps.append(App(io)), **options)
        started.append(server)
        return Running(server, apps[0])

    yield make
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def no_unhandled_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test if our code logged an error or a traceback meanwhile."""
    caplog.set_level(logging.WARNING)
    yield
    bad = [
        record
        for record in caplog.get_records("call") + caplog.get_records("teardown")
        if record.name.split(".")[0] in ("eio", "sio", "reactor")
        and (record.levelno >= logging.ERROR or record.exc_info)
    ]
    assert not bad, "our code logged errors:\n" + "\n".join(r.getMessage() for r in bad)


# -- the official client --------------------------------------------------------------------------


class RecoveryClient(NodeClient):
    """``tests/node/recovery_client.js``: ``NodeClient``'s protocol, plus drop and reconnect."""

    def __init__(self, url: str, **options: Any) -> None:
        self.proc = Process([node(), str(SCRIPT), url, json.dumps(options)])
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._seq = 0

    def command(self, **cmd: Any) -> None:
        self.proc.write(json.dumps(cmd))

    @property
    def log(self) -> list[dict[str, Any]]:
        """Every report read so far, in the order the client wrote them."""
        return [json.loads(line) for line in self.proc.out_lines]


@pytest.fixture
def node_client() -> Iterator[Callable[..., RecoveryClient]]:
    clients: list[RecoveryClient] = []

    def make(url: str, **options: Any) -> RecoveryClient:
        client = RecoveryClient(url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def offset_number(offset: Any) -> int:
    assert isinstance(offset, str), offset
    prefix_, _, number = offset.partition(".")
    assert prefix_ and number, offset
    return int(number, 16)


@pytest.mark.node
@pytest.mark.parametrize("reconnect", ["auto", "manual"])
@pytest.mark.parametrize("mode", MODES)
def test_recovery_official_client_gets_its_session_back(
    mode: str,
    reconnect: str,
    start: Callable[..., Running],
    node_client: Callable[..., RecoveryClient],
) -> None:
    running = start(connection_state_recovery=True)
    io, app = running.io, running.app
    options: dict[str, Any] = dict(AUTO) if reconnect == "auto" else {"reconnection": False}
    if MODES[mode] is not None:
        options["transports"] = MODES[mode]
    client = node_client(running.server.url, **options)

    first = client.expect("connect")
    sid, pid = first["id"], first["pid"]
    assert first["recovered"] is False
    assert isinstance(pid, str) and len(pid) >= 22
    assert app.expect("connect", sid)[3:] == (False, pid)
    welcome = client.expect("event", name="welcome")["args"]
    assert welcome[:2] == ["/", False]
    assert isinstance(welcome[2], str)  # the offset
    assert client.call("join", "room1", "extra") == [sorted([sid, "room1", "extra"])]
    assert client.call("set", "user", "ann") == [True]
    if mode == "default":
        client.expect("upgrade", transport="websocket")
    socket = app.sockets[sid]

    if reconnect == "auto":
        # The server sends while the client is away: from its disconnect handler, before the
        # client can come back (the drop is one close frame, or one POST, sent at once; coming
        # back takes the reconnection delay, then a handshake and a CONNECT: round trips the
        # server answers only after it has read the drop).
        app.on_disconnect = lambda gone: send_missed(io, gone) if gone.id == sid else None
        client.command(drop=True)
        assert client.expect("disconnect")["reason"] == "forced close"
        assert app.expect("disconnect", sid)[3] == "transport close"
    else:
        client.command(drop=True)
        assert client.expect("disconnect")["reason"] == "forced close"
        assert app.expect("disconnect", sid)[3] == "transport close"
        assert running.store_counts()[0] == 1
        running.call(send_missed, io, socket)
        client.command(connect=True)

    again = client.expect("connect")
    assert again["recovered"] is True
    assert again["id"] == sid
    assert again["pid"] == pid
    assert app.expect("connect", sid)[3:] == (True, pid)
    assert running.store_counts()[0] == 0  # given back: no longer kept
    assert client.call("info") == [
        {
            "id": sid,
            "nsp": "/",
            "rooms": sorted([sid, "room1", "extra"]),
            "recovered": True,
            "data": {"user": "ann"},
            # The client sent {pid, offset}: the pid, a bearer secret, stays out of the app's view.
            "auth": {},
        }
    ]
    if mode == "default":
        client.expect("upgrade", transport="websocket")
    # A live event after everything: once it is in, everything sent before it is too.
    running.call(lambda: io.to("extra").emit("live", 4))
    client.expect("event", name="live")

    log = client.log
    connects = [i for i, r in enumerate(log) if r["type"] == "connect"]
    disconnect = next(i for i, r in enumerate(log) if r["type"] == "disconnect")
    assert len(connects) == 2 and connects[0] < disconnect < connects[1]
    events = [r for r in log if r["type"] == "event"]
    assert [e["name"] for e in events] == ["welcome", *MISSED, "welcome", "live"]
    # the missed ones came before the CONNECT reply (the client buffers them until then)
    missed = [r for r in log[disconnect : connects[1]] if r["type"] == "event"]
    assert [e["name"] for e in missed] == MISSED
    assert [e["args"][:-1] for e in missed] == [[1], [2], [{"$bin": "AAH/"}], [3]]
    assert events[-2]["args"][:-1] == ["/", True]
    assert events[-1]["args"][:-1] == [4]
    # every event carries an offset, all of one store, increasing in the order they came
    offsets = [e["args"][-1] for e in events]
    assert len({o.partition(".")[0] for o in offsets}) == 1
    numbers = [offset_number(o) for o in offsets]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    # the client would resume from the last one
    client.command(state=True)
    state = client.expect("state")
    assert state["offset"] == offsets[-1] and state["pid"] == pid and state["connected"]


@pytest.mark.node
@pytest.mark.parametrize("mode", MODES)
def test_recovery_off_no_offsets_and_never_recovered(
    mode: str, start: Callable[..., Running], node_client: Callable[..., RecoveryClient]
) -> None:
    running = start()
    io, app = running.io, running.app
    options: dict[str, Any] = dict(AUTO)
    if MODES[mode] is not None:
        options["transports"] = MODES[mode]
    client = node_client(running.server.url, **options)
    first = client.expect("connect")
    sid = first["id"]
    assert first["pid"] is None and first["recovered"] is False
    assert app.expect("connect", sid)[3:] == (False, None)
    assert client.expect("event", name="welcome")["args"] == ["/", False]
    assert client.call("join", "room1") == [sorted([sid, "room1"])]
    running.call(lambda: io.to("room1").emit("to-room", 1))
    running.call(lambda: app.sockets[sid].emit("to-me", 2))
    assert client.expect("event", name="to-room")["args"] == [1]
    assert client.expect("event", name="to-me")["args"] == [2]
    if mode == "default":
        client.expect("upgrade", transport="websocket")

    client.command(drop=True)
    client.expect("disconnect")
    app.expect("disconnect", sid)
    again = client.expect("connect")
    assert again["recovered"] is False and again["pid"] is None
    assert again["id"] != sid
    assert client.expect("event", name="welcome")["args"] == ["/", False]
    assert client.call("info")[0]["rooms"] == [again["id"]]
    assert running.call(lambda: getattr(io.of("/").adapter, "store", None)) is None


@pytest.mark.node
def test_recovery_voluntary_disconnect_is_final(
    start: Callable[..., Running], node_client: Callable[..., RecoveryClient]
) -> None:
    """``socket.disconnect()`` then ``connect()``: the client still sends its pid and offset
    (socket.io-client keeps them), but nothing was kept: a fresh session."""
    running = start(connection_state_recovery=True)
    client = node_client(running.server.url, transports=["websocket"], **AUTO)
    first = client.expect("connect")
    client.expect("event", name="welcome")
    client.call("join", "room1")
    client.command(disconnect=True)
    assert client.expect("disconnect")["reason"] == "io client disconnect"
    assert running.app.expect("disconnect", first["id"])[3] == "client namespace disconnect"
    assert running.store_counts()[0] == 0
    client.command(connect=True)
    again = client.expect("connect")
    assert again["recovered"] is False
    assert again["id"] != first["id"] and again["pid"] != first["pid"]
    assert client.call("info")[0]["rooms"] == [again["id"]]


# -- raw clients ----------------------------------------------------------------------------------


@dataclass
class Joined:
    sid: str
    pid: str | None
    #: What came before the CONNECT reply (the missed packets of a restored session).
    before: list[Message]
    #: The app's welcome: ``[nsp, recovered]`` (without the offset).
    welcome: list[Any]
    #: The welcome's offset (None with recovery off).
    offset: str | None


def join(engine: Engine, nsp: str = "/", auth: Any = None, timeout: float = WAIT) -> Joined:
    """Send CONNECT (with ``auth``); read up to the reply and the app's welcome."""
    engine.send("40" + prefix(nsp) + ("" if auth is None else dumps(auth)))
    return finish_join(engine, nsp, timeout)


def finish_join(engine: Engine, nsp: str = "/", timeout: float = WAIT) -> Joined:
    before: list[Message] = []
    while True:
        message = engine.recv(timeout)
        if isinstance(message, str):
            kind, name, _, data = parse_packet(message)
            if kind == "0" and name == nsp:
                break
            assert kind[0] != "4", f"refused: {message!r}"
        before.append(message)
    assert isinstance(data, dict) and isinstance(data["sid"], str), message
    welcome = engine.recv(timeout)
    kind, name, _, args = parse_packet(welcome)
    assert kind == "2" and name == nsp and args[0] == "welcome", welcome
    offset = args[3] if len(args) == 4 else None
    return Joined(data["sid"], data.get("pid"), before, args[1:3], offset)


class Victim:
    """A websocket client that joined ``room1``, got an offset, and lost its connection: its
    session is kept by the server."""

    def __init__(self, running: Running, nsp: str = "/") -> None:
        self.running = running
        self.nsp = nsp
        engine = WsEngine.open(running.wire)
        joined = join(engine, nsp)
        assert joined.pid is not None and joined.offset is not None
        engine.send(event("join", "room1", nsp=nsp, ack=1))
        reply = engine.recv()
        assert parse_packet(reply)[2] == 1, reply
        self.sid, self.pid, self.offset = joined.sid, joined.pid, joined.offset
        engine.close()
        assert running.app.expect("disconnect", self.sid)[3] == "transport close"

    @property
    def auth(self) -> dict[str, str]:
        return {"pid": self.pid, "offset": self.offset}

    def restore(self) -> Joined:
        """Come back with the right pid and offset: the session, restored."""
        with WsEngine.open(self.running.wire) as engine:
            joined = join(engine, self.nsp, self.auth)
            assert joined.sid == self.sid and joined.pid == self.pid
            assert joined.welcome == [self.nsp, True]
            echo_check(engine, self.nsp)
            leave(engine, self.running, self.sid, self.nsp)
        return joined


def echo_check(engine: Engine, nsp: str = "/", timeout: float = WAIT) -> None:
    engine.send(event("echo", "still there", nsp=nsp, ack=99))
    reply = engine.recv(timeout)
    assert parse_packet(reply) == ("3", nsp, 99, ["still there"]), reply


def assert_fresh(joined: Joined, victim: Victim, nsp: str = "/") -> None:
    """A new session: its own sid and pid, not recovered, and nothing of the victim's."""
    assert joined.sid != victim.sid
    assert joined.pid is not None and joined.pid != victim.pid and len(joined.pid) >= 22
    assert joined.welcome == [nsp, False]
    assert joined.before == []


def fresh(engine: Engine, running: Running, joined: Joined, victim: Victim, nsp: str = "/") -> None:
    """``assert_fresh``; the new socket works, then leaves for good (so that nothing of it is
    kept, and the store holds only what the test means it to)."""
    assert_fresh(joined, victim, nsp)
    echo_check(engine, nsp)
    leave(engine, running, joined.sid, nsp)


def leave(engine: Engine, running: Running, sid: str, nsp: str = "/") -> None:
    """Leave ``nsp`` for good (DISCONNECT): the server keeps nothing."""
    engine.send("41" + prefix(nsp))
    assert running.app.expect("disconnect", sid)[3] == "client namespace disconnect"


def server_alive(running: Running, nsp: str = "/") -> None:
    """A new client gets its echo promptly (then leaves for good)."""
    with WsEngine.open(running.wire) as engine:
        joined = join(engine, nsp)
        echo_check(engine, nsp, timeout=2.0)
        leave(engine, running, joined.sid, nsp)


def test_recovery_raw_restore_replays_in_order_then_replies(start: Callable[..., Running]) -> None:
    """The wire itself: the missed packets (the binary one with its attachment) come before the
    CONNECT reply ``40{"sid","pid"}``, each with its offset last; the restored socket is back in
    its rooms."""
    running = start(connection_state_recovery=True)
    victim = Victim(running)
    running.call(send_missed, running.io, running.app.sockets[victim.sid])
    with WsEngine.open(running.wire) as engine:
        joined = join(engine, "/", victim.auth)
        assert (joined.sid, joined.pid, joined.welcome) == (victim.sid, victim.pid, ["/", True])
        names = []
        offsets = [victim.offset]
        before = iter(joined.before)
        for message in before:
            kind, nsp, ack, data = parse_packet(message)
            assert nsp == "/" and ack is None
            names.append(data[0])
            offsets.append(data[-1])
            if kind == "51-":
                assert data[1] == {"_placeholder": True, "num": 0}
                assert next(before) == b"\x00\x01\xff"
            else:
                assert kind == "2"
        assert names == MISSED
        assert joined.offset is not None
        offsets.append(joined.offset)
        numbers = [offset_number(o) for o in offsets]
        assert numbers == sorted(numbers)
        engine.send(event("info", ack=5))
        info = parse_packet(engine.recv())[3][0]
        assert info["rooms"] == sorted([victim.sid, "room1"]) and info["recovered"] is True


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_recovery_raw_restore_over_either_transport(
    transport: str, start: Callable[..., Running]
) -> None:
    running = start(connection_state_recovery=True)
    victim = Victim(running)
    running.call(lambda: running.io.to("room1").emit("to-room", 1))
    with open_engine(running.wire, transport) as engine:
        joined = join(engine, "/", victim.auth)
        assert (joined.sid, joined.welcome) == (victim.sid, ["/", True])
        assert [parse_packet(m)[3][:-1] for m in joined.before] == [["to-room", 1]]
        echo_check(engine)


def test_recovery_off_raw_wire(start: Callable[..., Running]) -> None:
    """Recovery off: the CONNECT reply has no pid, events no offset, and a CONNECT with a pid
    and an offset is an ordinary one."""
    running = start()
    with WsEngine.open(running.wire) as engine:
        engine.send("40")
        reply = engine.recv()
        assert isinstance(reply, str)
        assert list(json.loads(reply[2:])) == ["sid"]
        sid = json.loads(reply[2:])["sid"]
        engine.expect(event("welcome", "/", False))
        engine.send(event("join", "room1", ack=1))
        engine.expect("431" + dumps([sorted([sid, "room1"])]))
        running.call(lambda: running.io.to("room1").emit("to-room", 1))
        engine.expect(event("to-room", 1))
    running.app.expect("disconnect", sid)
    with WsEngine.open(running.wire) as engine:
        joined = join(engine, "/", {"pid": "whatever", "offset": "x.1"})
        assert joined.sid != sid and joined.pid is None
        assert joined.welcome == ["/", False] and joined.offset is None
        assert joined.before == []


# -- abuse: each gets a fresh session -------------------------------------------------------------


def test_recovery_forged_pid_gets_a_fresh_session(start: Callable[..., Running]) -> None:
    running = start(connection_state_recovery=True)
    victim = Victim(running)
    running.call(lambda: running.io.to("room1").emit("secret", "for room1 only"))
    forged = [
        generate_pid(),
        victim.pid[:-1] + ("A" if victim.pid[-1] != "A" else "B"),  # one character off
        victim.pid.upper() if victim.pid.upper() != victim.pid else victim.pid.lower(),
        victim.sid,  # the public id is not the private one
        "",
    ]
    for pid in forged:
        with WsEngine.open(running.wire) as engine:
            joined = join(engine, "/", {"pid": pid, "offset": victim.offset})
            fresh(engine, running, joined, victim)
    assert running.store_counts()[0] == 1  # the victim's
    assert [parse_packet(m)[3][:-1] for m in victim.restore().before] == [
        ["secret", "for room1 only"]
    ]


def test_recovery_replayed_pid_gets_a_fresh_session(start: Callable[..., Running]) -> None:
    """A session is given back once: the same pid and offset again, while the restored socket
    is connected or after it left for good, start afresh."""
    running = start(connection_state_recovery=True)
    victim = Victim(running)
    with WsEngine.open(running.wire) as first:
        restored = join(first, "/", victim.auth)
        assert restored.sid == victim.sid and restored.welcome == ["/", True]
        for transport in ("websocket", "polling"):
            with open_engine(running.wire, transport) as engine:
                fresh(engine, running, join(engine, "/", victim.auth), victim)
        echo_check(first)  # the restored socket is unharmed
        assert running.call(lambda: victim.sid in running.io.of("/").sockets)
        first.send("41")  # it leaves for good: nothing is kept
        assert running.app.expect("disconnect", victim.sid)[3] == "client namespace disconnect"
    with WsEngine.open(running.wire) as engine:
        fresh(engine, running, join(engine, "/", victim.auth), victim)
    server_alive(running)


def test_recovery_replayed_pid_on_the_same_connection(start: Callable[..., Running]) -> None:
    """One connection restores, leaves the namespace, and replays the pid: fresh."""
    running = start(connection_state_recovery=True)
    victim = Victim(running)
    with WsEngine.open(running.wire) as engine:
        assert join(engine, "/", victim.auth).sid == victim.sid
        engine.send("41")
        running.app.expect("disconnect", victim.sid)
        fresh(engine, running, join(engine, "/", victim.auth), victim)


def test_recovery_expired_session_gets_a_fresh_session(start: Callable[..., Running]) -> None:
    options = sio.RecoveryOptions(max_disconnection_duration=0.2)
    running = start(connection_state_recovery=options)
    victim = Victim(running)
    assert running.store_counts()[0] == 1
    running.after(0.25)  # the window is over (the server's own clock says so)
    with WsEngine.open(running.wire) as engine:
        fresh(engine, running, join(engine, "/", victim.auth), victim)
    assert running.store_counts()[0] == 0


def test_recovery_within_a_short_window_still_restores(start: Callable[..., Running]) -> None:
    """The control of the expiry test: the same window, but back in time."""
    options = sio.RecoveryOptions(max_disconnection_duration=2.0)
    running = start(connection_state_recovery=options)
    Victim(running).restore()


HUGE = "x" * 300_000


@pytest.mark.parametrize(
    ("name", "auth", "consumes"),
    [
        ("pid number", lambda v: {"pid": 12345, "offset": v.offset}, False),
        ("offset number", lambda v: {"pid": v.pid, "offset": 7}, False),
        ("pid object", lambda v: {"pid": {"pid": v.pid}, "offset": v.offset}, False),
        ("offset object", lambda v: {"pid": v.pid, "offset": {"$gt": ""}}, False),
        ("pid list", lambda v: {"pid": [v.pid], "offset": v.offset}, False),
        ("offset list", lambda v: {"pid": v.pid, "offset": [v.offset]}, False),
        ("pid true", lambda v: {"pid": True, "offset": v.offset}, False),
        ("both null", lambda v: {"pid": None, "offset": None}, False),
        ("offset null", lambda v: {"pid": v.pid, "offset": None}, False),
        ("offset missing", lambda v: {"pid": v.pid}, False),
        ("pid missing", lambda v: {"offset": v.offset}, False),
        ("huge pid", lambda v: {"pid": HUGE, "offset": v.offset}, False),
        ("huge offset", lambda v: {"pid": v.pid, "offset": HUGE}, True),
        ("huge both", lambda v: {"pid": HUGE, "offset": HUGE}, False),
        ("empty strings", lambda v: {"pid": "", "offset": ""}, False),
        ("unicode", lambda v: {"pid": v.pid + "\u00e9\u2028", "offset": "\U0001f600"}, False),
        ("auth not an object", lambda v: [v.pid, v.offset], False),
        ("auth a string", lambda v: v.pid, False),
    ],
)
def test_recovery_malformed_pid_or_offset_gets_a_fresh_session(
    name: str, auth: Callable[[Victim], Any], consumes: bool, start: Callable[..., Running]
) -> None:
    running = start(connection_state_recovery=True)
    victim = Victim(running)
    with WsEngine.open(running.wire) as engine:
        connect = "40" + dumps(auth(victim))
        engine.send(connect)
        if not connect.startswith("40{"):
            # Not an object: an invalid CONNECT (as for Node's decoder), the connection is
            # closed without a reply; the server lives on.
            assert engine.wait_closed() == []
        else:
            fresh(engine, running, finish_join(engine), victim)
    server_alive(running)
    if consumes:
        # The right pid with an offset that is not in the log: the session was asked for and
        # could not be given back whole; its client starts afresh (and the session is gone).
        assert running.store_counts()[0] == 0
    else:
        victim.restore()


def test_recovery_unknown_offset_gets_a_fresh_session(start: Callable[..., Running]) -> None:
    running = start(connection_state_recovery=True)
    victim = Victim(running)
    prefix_ = victim.offset.partition(".")[0]
    for offset in (f"{prefix_}.ffffff", "000000.1", victim.offset + "0"):
        other = Victim(running)
        with WsEngine.open(running.wire) as engine:
            joined = join(engine, "/", {"pid": other.pid, "offset": offset})
            fresh(engine, running, joined, other)
    victim.restore()  # its own session is not anyone else's business


def test_recovery_pid_of_another_namespace_gets_a_fresh_session(
    start: Callable[..., Running],
) -> None:
    running = start(connection_state_recovery=True)
    victim = Victim(running, "/")
    running.call(lambda: running.io.to("room1").emit("secret", 1))
    with WsEngine.open(running.wire) as engine:
        joined = join(engine, "/other", victim.auth)
        fresh(engine, running, joined, victim, "/other")
        # and on the same connection, "/" gets it back
        back = join(engine, "/", victim.auth)
        assert back.sid == victim.sid and back.welcome == ["/", True]
        assert [parse_packet(m)[3][:-1] for m in back.before] == [["secret", 1]]
    # the other way round: "/other"'s session on "/"
    other = Victim(running, "/other")
    with WsEngine.open(running.wire) as engine:
        fresh(engine, running, join(engine, "/", other.auth), other)
    other.restore()


def test_recovery_flood_of_stale_pids(start: Callable[..., Running]) -> None:
    """500 CONNECTs with stale pids (random, or the pid of a session already restored) over
    three connections, each followed by a DISCONNECT: 500 fresh sessions, nothing kept, and the
    server answers an echo at once; a session kept meanwhile is still restorable."""
    running = start(connection_state_recovery=True)
    used = Victim(running)
    used.restore()
    kept = Victim(running)
    stale = [used.auth] + [
        {"pid": generate_pid(), "offset": f"{used.offset.partition('.')[0]}.{n:x}"}
        for n in range(1, 500)
    ]
    engines: list[Engine] = [
        WsEngine.open(running.wire),
        WsEngine.open(running.wire),
        PollingEngine.open(running.wire),
    ]
    shares = [stale[0:200], stale[200:400], stale[400:500]]
    started = time.monotonic()
    try:
        for engine, share in zip(engines, shares, strict=True):
            packets: list[Message] = []
            for auth in share:
                packets += ["40" + dumps(auth), "41"]
            engine.send(*packets)
        sids: set[str] = set()
        pids: set[str] = set()
        for engine, share in zip(engines, shares, strict=True):
            for _ in share:
                joined = finish_join(engine)
                assert joined.welcome == ["/", False] and joined.before == []
                assert joined.pid is not None
                sids.add(joined.sid)
                pids.add(joined.pid)
        elapsed = time.monotonic() - started
        assert len(sids) == 500 and len(pids) == 500
        assert not sids & {used.sid, kept.sid}
        assert not pids & {used.pid, kept.pid}
        # each flooding connection still works, and so does a new one, at once
        for engine in engines:
            joined = join(engine, timeout=2.0)
            echo_check(engine, timeout=2.0)
            leave(engine, running, joined.sid)
        echoed = time.monotonic()
        server_alive(running)
        print(
            f"\nflood: 500 stale CONNECTs answered in {elapsed * 1000:.0f} ms; "
            f"a new client's echo after it took {(time.monotonic() - echoed) * 1000:.0f} ms"
        )
    finally:
        for engine in engines:
            engine.close()
    sessions, _ = running.store_counts()
    assert sessions == 1  # only the kept one: a voluntary DISCONNECT keeps nothing
    kept.restore()


def test_recovery_socket_volatile_emit_gets_no_offset(start: Callable[..., Running]) -> None:
    running = start(connection_state_recovery=True)
    with WsEngine.open(running.wire) as engine:
        join(engine)
        engine.send(event("volatile"))
        assert engine.recv() == event("volatile", 1)


# -- memory ---------------------------------------------------------------------------------------

SESSIONS = 10_000
PACKETS = 1_000


def test_recovery_memory_of_10k_sessions_is_bounded_and_given_back() -> None:
    """10 000 sockets leave and never come back, kept as ``Connection.leave`` keeps them, by a
    real server's adapter, while 1 000 broadcasts are logged; ``tracemalloc`` measures what the
    store holds; then the window ends and pruning gives it back. Twice: the second wave costs
    no more than the first, and leaves no more behind."""
    window = 120.0
    options = sio.RecoveryOptions(max_disconnection_duration=window)
    io = sio.Server(connection_state_recovery=options)
    figures: list[tuple[int, int, int]] = []
    try:
        adapter = io.of("/").adapter
        assert isinstance(adapter, sio.adapter.InMemoryAdapter)
        store = adapter.store
        assert store is not None
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            for _wave in range(2):
                for n in range(SESSIONS):
                    sid = generate_sid()
                    rooms = sorted((sid, f"room{n % 100}"))
                    adapter.persist_session(Session(sid, generate_pid(), rooms, {}))
                gc.collect()
                with_sessions = tracemalloc.get_traced_memory()[0]
                for n in range(PACKETS):
                    packet = Packet(PacketType.EVENT, "/", ["chat message", f"message {n}", n])
                    opts = sio.adapter.BroadcastOptions(frozenset({f"room{n % 100}"}))
                    adapter.broadcast(packet, opts)
                gc.collect()
                with_log = tracemalloc.get_traced_memory()[0]
                assert store.session_count == SESSIONS and len(store) == PACKETS

                now = io.reactor.time()
                store.prune(now + window / 2)  # still in the window: all kept
                assert store.session_count == SESSIONS and len(store) == PACKETS
                store.prune(now + window + 1)  # the window is over
                assert store.session_count == 0 and len(store) == 0 and store.bytes == 0
                gc.collect()
                after = tracemalloc.get_traced_memory()[0]
                sessions, log = with_sessions - baseline, with_log - with_sessions
                figures.append((sessions, log, after - baseline))
        finally:
            tracemalloc.stop()
    finally:
        io.close()
        io.reactor.close()

    print()
    for wave, (sessions, log, left) in enumerate(figures, 1):
        print(
            f"recovery store, wave {wave}: {SESSIONS} sessions {sessions / 1024:.0f} KiB "
            f"({sessions / SESSIONS:.0f} B each), {PACKETS} logged packets {log / 1024:.0f} KiB "
            f"({log / PACKETS:.0f} B each); after pruning {left / 1024:.1f} KiB above the "
            f"baseline ({left / (sessions + log):.1%} of the peak)"
        )
    (sessions1, log1, left1), (_, _, left2) = figures
    assert sessions1 / SESSIONS < 2048
    assert log1 / PACKETS < 2048
    # What pruning does not give back is only the emptied dicts' tables (a dict never shrinks):
    # a few bytes per peak entry, and no more after a second wave.
    assert left1 < 0.06 * (sessions1 + log1), "pruning did not give the memory back"
    assert left1 / SESSIONS < 32
    assert left2 - left1 < 16 * 1024, "a second wave left more behind: a leak"


def test_recovery_pruning_timer_empties_the_store(
    start: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions that never come back, on a real server: the adapter's timer prunes them (and
    the log) once the window is over, with no traffic at all."""
    monkeypatch.setattr(sio.adapter, "PRUNE_INTERVAL", 0.05)
    options = sio.RecoveryOptions(max_disconnection_duration=1.0)
    running = start(connection_state_recovery=options)
    engines = [WsEngine.open(running.wire) for _ in range(50)]
    for engine in engines:
        join(engine)
    assert running.store_counts()[1] >= 1  # their welcomes are logged
    for engine in engines:
        engine.close()
    running.wait_until(lambda: running.store_counts()[0] == 50, "50 sessions kept")
    running.wait_until(lambda: running.store_counts() == (0, 0), "the store emptied by its timer")
    server_alive(running)
