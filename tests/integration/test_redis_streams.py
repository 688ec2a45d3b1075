"""The Redis Streams adapter in a mixed fleet: our servers (``cluster/redis/streams.py`` under
``ClusterAdapter``) and Node's (``tests/node/redis_streams_server.js``: socket.io 4.8 with
``@socket.io/redis-streams-adapter`` 0.3.1) share the machine's Redis, each test with a stream,
channel prefix and session prefix of its own. Clients are the official ``socket.io-client``.

- chat across every server, once each; garbage in the stream changes nothing;
- rooms, binary, ``sockets_join`` / ``sockets_leave`` / ``disconnect_sockets``,
  ``fetch_sockets``, server-side emits with and without acknowledgement, broadcasts with
  acknowledgements: both directions;
- connection state recovery across hosts: a client of our server A (a subprocess, killed with
  SIGKILL) reconnects to server B (ours, or Node's) and gets its session back with what it
  missed, once; a client of a Node server stopped gracefully is recovered by ours.
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pytest

import sio
from cli.chat import plain_http_handler
from cluster import RemoteSocket
from cluster.redis import RedisError, RedisUnavailable
from cluster.redis.resp import ReplyReader, encode_command
from cluster.redis.streams import redis_streams_adapter_factory
from cluster.redis.streams_format import is_offset
from reactor import Reactor

from .chat.helpers import (
    NODE_DIR,
    WAIT,
    Loop,
    NodeClient,
    Process,
    ServerProcess,
    b64,
    node,
)
from .redis_support import MACHINE_REDIS, redis_up

pytestmark = [pytest.mark.redis, pytest.mark.node]

#: Seconds a disconnected session is kept (every server of these tests).
WINDOW = 60.0


# -- Redis ---------------------------------------------------------------------------------------


def redis_command(*args: str | bytes | int) -> Any:
    """One command on a connection of its own to the machine's Redis; its reply."""
    with socket.create_connection(("127.0.0.1", 6379), timeout=WAIT) as sock:
        sock.sendall(encode_command(*args))
        reader = ReplyReader()
        while True:
            data = sock.recv(65536)
            assert data, "Redis closed the connection"
            for reply in reader.feed(data):
                return reply


@dataclass(frozen=True)
class Names:
    """What a fleet shares in Redis (unique per test)."""

    stream: str
    prefix: str
    sessions: str

    def factory_options(self) -> dict[str, Any]:
        return {
            "stream_name": self.stream,
            "channel_prefix": self.prefix,
            "session_key_prefix": self.sessions,
            "nodes_interval": 0.2,
        }

    def node_config(self, name: str) -> dict[str, Any]:
        return {
            "redis": MACHINE_REDIS,
            "streamName": self.stream,
            "channelPrefix": self.prefix,
            "sessionKeyPrefix": self.sessions,
            "name": name,
            "recovery": round(WINDOW * 1000),
        }


@pytest.fixture
def names() -> Iterator[Names]:
    if not redis_up():
        pytest.skip("no Redis at 127.0.0.1:6379")
    node()  # skips without node and the npm packages
    if not (NODE_DIR / "node_modules" / "@socket.io" / "redis-streams-adapter").is_dir():
        pytest.skip("@socket.io/redis-streams-adapter is not installed: run `make npm`")
    tag = secrets.token_hex(4)
    chosen = Names(f"test-streams-{tag}", f"test-sio-{tag}", f"test-sio-session-{tag}:")
    yield chosen
    redis_command("DEL", chosen.stream)
    keys = redis_command("KEYS", chosen.sessions + "*")
    if keys:
        redis_command("DEL", *keys)


# -- the app, on our servers (what redis_streams_server.js does) -------------------------------


def install_app(io: sio.Server, name: str, report: Callable[[dict[str, Any]], None]) -> None:
    def install(nsp: sio.Namespace) -> None:
        def on_connection(socket: sio.Socket) -> None:
            @socket.on("chat message")
            def chat(user: Any, msg: Any) -> None:
                socket.broadcast.emit("chat message", f"{msg} from {user}")

            @socket.on("join")
            def join(room: str) -> str:
                socket.join(room)
                return room

            @socket.on("leave")
            def leave(room: str) -> str:
                socket.leave(room)
                return room

            @socket.on("to room")
            def to_room(room: str, *args: Any) -> None:
                nsp.to(room).emit("room message", *args)

            @socket.on("set data")
            def set_data(data: dict[str, Any]) -> bool:
                socket.data = data
                return True

            @socket.on("binary")
            def binary(*args: Any) -> None:
                socket.broadcast.emit("binary", *args)

            @socket.on("whoami")
            def whoami() -> dict[str, Any]:
                return {
                    "id": socket.id,
                    "server": name,
                    "recovered": socket.recovered,
                    "rooms": sorted(socket.rooms),
                }

        nsp.on("connection", on_connection)

        @nsp.on("ping")
        def ping(*args: Any, ack: Callable[..., None]) -> None:
            report({"type": "server-side", "nsp": nsp.name, "args": list(args)})
            ack(f"pong from {name}")

    install(io.of("/"))
    install(io.of("/admin"))


def recovery_options() -> sio.RecoveryOptions:
    return sio.RecoveryOptions(max_disconnection_duration=WINDOW)


class PyServer:
    """Our server, in this process (its reactor on a thread)."""

    def __init__(self, names: Names, name: str, parser: str = "json") -> None:
        self.name = name
        self.loop = Loop()
        self.reports: queue.Queue[dict[str, Any]] = queue.Queue()

        def build() -> tuple[sio.Server, Any, str, int]:
            factory = redis_streams_adapter_factory(
                self.loop.reactor, MACHINE_REDIS, **names.factory_options()
            )
            io = sio.Server(
                reactor=self.loop.reactor,
                adapter=factory,
                http_handler=plain_http_handler(name),
                connection_state_recovery=recovery_options(),
                parser=parser,
            )
            install_app(io, name, self.reports.put)
            host, port = io.listen("127.0.0.1", 0)
            return io, factory, host, port

        self.io, self.factory, host, port = self.loop.call(build)
        self.url = f"http://{host}:{port}"
        self.uid: str = self.factory.link.uid

    def nodes(self, nsp: str = "/") -> frozenset[str]:
        return self.loop.call(lambda: self.io.of(nsp).adapter.transport.nodes)  # type: ignore[no-any-return]

    def wait(self, start: Callable[[Callable[..., None]], None]) -> tuple[Any, ...]:
        """Run ``start(done)`` on the loop; the arguments ``done`` is called with."""
        answers: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.loop.call(start, lambda *args: answers.put(args))
        try:
            return answers.get(timeout=2 * WAIT)
        except queue.Empty:
            raise AssertionError(f"{self.name}: no answer within {2 * WAIT}s") from None

    def stop(self) -> None:
        if not self.loop.thread.is_alive():
            return
        closed = threading.Event()
        self.loop.call(self.io.close, closed.set)
        closed.wait(WAIT)
        self.loop.call(self.factory.close)
        self.loop.stop()


class NodeServer:
    """``redis_streams_server.js``: Node's server with Node's streams adapter."""

    def __init__(self, names: Names, name: str) -> None:
        self.name = name
        script = str(NODE_DIR / "redis_streams_server.js")
        self.server = ServerProcess(Process([node(), script, json.dumps(names.node_config(name))]))
        self.proc = self.server.proc
        self.url = self.server.url
        self.uid = self.proc.expect_line("uid ").split()[1]
        self._seq = 0

    def run(self, op: str, **fields: Any) -> Any:
        """A server-side operation (see the script); its result."""
        self._seq += 1
        seq = self._seq
        self.proc.write(json.dumps({"seq": seq, "op": op, **fields}))

        def answer(line: str) -> bool:
            return line.startswith("{") and json.loads(line).get("seq") == seq

        reply = json.loads(self.proc.expect_line(answer))
        assert "error" not in reply, reply
        return reply["result"]

    def report(self) -> dict[str, Any]:
        line = self.proc.expect_line(lambda text: '"type":"server-side"' in text)
        return json.loads(line)  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.proc.proc.poll() is None:
            self.server.stop()
        self.proc.stop()


#: The Python server of a subprocess (``serve``), for the tests that kill it.
SERVE = (
    "import sys; sys.path.insert(0, 'tests'); "
    "from integration.test_redis_streams import serve; serve(sys.argv[1])"
)


def serve(config: str) -> None:
    """Run our server with the app until killed: ``{"names": {...}, "name": ...}``."""
    options = json.loads(config)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    reactor = Reactor()
    factory = redis_streams_adapter_factory(
        reactor, MACHINE_REDIS, **Names(**options["names"]).factory_options()
    )
    io = sio.Server(
        reactor=reactor,
        adapter=factory,
        http_handler=plain_http_handler(options["name"]),
        connection_state_recovery=recovery_options(),
        parser=options.get("parser", "json"),
    )
    install_app(io, options["name"], lambda report: print(json.dumps(report), flush=True))
    host, port = io.listen("127.0.0.1", 0)
    print(f"listening on {host}:{port}", flush=True)
    print(f"uid {factory.link.uid}", flush=True)
    reactor.run()


class PyProcess:
    """Our server in a subprocess (``serve``)."""

    def __init__(self, names: Names, name: str, parser: str = "json") -> None:
        self.name = name
        config = json.dumps({"names": asdict(names), "name": name, "parser": parser})
        self.server = ServerProcess(Process([sys.executable, "-c", SERVE, config], stdin=False))
        self.proc = self.server.proc
        self.url = self.server.url
        self.uid = self.proc.expect_line("uid ").split()[1]

    def kill(self) -> None:
        self.proc.signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self.proc.stop()


class RecoveringClient(NodeClient):
    """``redis_streams_client.js``: the official client, reconnecting to ``failover``."""

    def __init__(self, url: str, failover: str, **options: Any) -> None:
        script = str(NODE_DIR / "redis_streams_client.js")
        options = {"failover": failover, **options}
        self.proc = Process([node(), script, url, json.dumps(options)])
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._seq = 0

    def state(self) -> dict[str, Any]:
        self.proc.write(json.dumps({"state": True}))
        return self.expect("state")


Server = PyServer | NodeServer


def until(predicate: Callable[[], bool], what: str, timeout: float = 2 * WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"


def form_fleet(servers: list[Any]) -> None:
    """Wait until every server counts every other (ours by uid, Node's by ``serverCount``)."""
    total = len(servers)
    uids = {server.uid for server in servers}

    def formed() -> bool:
        for server in servers:
            if isinstance(server, PyServer):
                if server.nodes() != uids - {server.uid}:
                    return False
            elif isinstance(server, NodeServer) and server.run("count") != total:
                return False
        return True

    until(formed, "the fleet to form")


@pytest.fixture
def stack() -> Iterator[list[Any]]:
    """Things to stop at the end of the test (servers, clients), last first."""
    things: list[Any] = []
    yield things
    for thing in reversed(things):
        (getattr(thing, "stop", None) or thing.close)()


def client(stack: list[Any], url: str, **options: Any) -> NodeClient:
    made = NodeClient(url, transports=["websocket"], **options)
    stack.append(made)
    made.expect("connect")
    return made


def event_args(report: dict[str, Any]) -> list[Any]:
    """An event's arguments without the recovery offset (a stream id: checked)."""
    args = list(report["args"])
    offset = args.pop()
    assert isinstance(offset, str) and is_offset(offset), f"no stream id last in {args}"
    return args


# -- a mixed fleet -------------------------------------------------------------------------------


def test_chat_across_a_mixed_fleet(names: Names, stack: list[Any]) -> None:
    servers: list[Any] = [PyServer(names, "py1"), PyServer(names, "py2"), NodeServer(names, "n1")]
    stack.extend(servers)
    form_fleet(servers)
    clients = [client(stack, server.url) for server in servers]
    # Garbage in the stream (not the adapter's format, or bad data): skipped by every server.
    redis_command("XADD", names.stream, "*", "foo", "bar")
    redis_command("XADD", names.stream, "*", "uid", "x", "nsp", "/", "type", "3", "data", "!!")
    redis_command("XADD", names.stream, "*", "uid", "x", "nsp", "/", "type", "3", "data", "{")
    for index, chat in enumerate(clients):
        chat.emit("chat message", f"user{index}", "hello")
    for index, chat in enumerate(clients):
        expected = {f"hello from user{other}" for other in range(len(clients)) if other != index}
        got = [
            event_args(chat.expect("event", name="chat message"))[0] for _ in range(len(expected))
        ]
        assert sorted(got) == sorted(expected)
        chat.assert_no_event("chat message")


def test_rooms_binary_and_room_operations_both_ways(names: Names, stack: list[Any]) -> None:
    ours, theirs = PyServer(names, "py"), NodeServer(names, "node")
    stack.extend([ours, theirs])
    form_fleet([ours, theirs])
    on_ours, on_theirs = client(stack, ours.url), client(stack, theirs.url)
    assert on_theirs.call("join", "red") == ["red"]
    # Our client to a room of Node's client, with binary; and back.
    on_ours.emit("to room", "red", "hello", b64(b"\x00\x01\xff"))
    got = on_theirs.expect("event", name="room message")
    assert event_args(got) == ["hello", b64(b"\x00\x01\xff")]
    on_ours.assert_no_event("room message")
    on_theirs.emit("binary", b64(b"\xfe"), {"nested": b64(b"\x00")})
    assert event_args(on_ours.expect("event", name="binary")) == [
        b64(b"\xfe"),
        {"nested": b64(b"\x00")},
    ]

    def rooms_of(peer: NodeClient) -> set[str]:
        (me,) = peer.call("whoami")
        return set(me["rooms"])

    ours_id = on_ours.call("whoami")[0]["id"]
    theirs_id = on_theirs.call("whoami")[0]["id"]
    # Node makes every socket join "blue", and ours leave it; ours does the same with "green".
    theirs.run("join", room=None, target="blue")
    until(lambda: "blue" in rooms_of(on_ours), "our socket in blue")
    assert "blue" in rooms_of(on_theirs)
    ours.loop.call(lambda: ours.io.in_("red").sockets_join("green"))
    until(lambda: "green" in rooms_of(on_theirs), "Node's socket in green")
    assert "green" not in rooms_of(on_ours)
    theirs.run("leave", room="blue", target="blue")
    until(lambda: "blue" not in rooms_of(on_ours), "our socket out of blue")
    ours.loop.call(lambda: ours.io.sockets_leave("green"))
    until(lambda: "green" not in rooms_of(on_theirs), "Node's socket out of green")
    # Disconnects: each server disconnects the other's client.
    theirs.run("disconnect", room=ours_id, close=False)
    assert on_ours.expect("disconnect")["reason"] == "io server disconnect"
    ours.loop.call(lambda: ours.io.in_(theirs_id).disconnect_sockets())
    assert on_theirs.expect("disconnect")["reason"] == "io server disconnect"


def test_fetch_sockets_both_ways(names: Names, stack: list[Any]) -> None:
    ours, theirs = PyServer(names, "py"), NodeServer(names, "node")
    stack.extend([ours, theirs])
    form_fleet([ours, theirs])
    on_ours, on_theirs = client(stack, ours.url), client(stack, theirs.url)
    assert on_ours.call("set data", {"who": "py"}) == [True]
    assert on_theirs.call("set data", {"who": "node"}) == [True]
    assert on_theirs.call("join", "red") == ["red"]
    ours_id = on_ours.call("whoami")[0]["id"]
    theirs_id = on_theirs.call("whoami")[0]["id"]

    found = {item["id"]: item for item in theirs.run("fetch", room=None)}
    assert found[ours_id] == {"id": ours_id, "rooms": [ours_id], "data": {"who": "py"}}
    assert found[theirs_id]["data"] == {"who": "node"}
    assert [item["id"] for item in theirs.run("fetch", room="red")] == [theirs_id]

    sockets, error = ours.wait(lambda done: ours.io.fetch_sockets(callback=done))
    assert error is None
    by_id = {s.id: s for s in sockets}
    assert set(by_id) == {ours_id, theirs_id}
    remote = by_id[theirs_id]
    assert isinstance(remote, RemoteSocket)
    assert remote.rooms == {theirs_id, "red"} and remote.data == {"who": "node"}
    assert remote.handshake["query"]["EIO"] == "4"
    sockets, error = ours.wait(lambda done: ours.io.to("red").fetch_sockets(callback=done))
    assert error is None and [s.id for s in sockets] == [theirs_id]
    # Acting on a remote socket goes through the fleet.
    ours.loop.call(lambda: remote.emit("direct", "to you"))
    assert event_args(on_theirs.expect("event", name="direct")) == ["to you"]


def test_server_side_emits_both_ways(names: Names, stack: list[Any]) -> None:
    ours, theirs = PyServer(names, "py"), NodeServer(names, "node")
    stack.extend([ours, theirs])
    form_fleet([ours, theirs])
    # Node asks, with an acknowledgement: ours answers.
    answer = theirs.run("server emit", event="ping", args=[1, "x"], ack=True)
    assert answer == {"error": None, "responses": ["pong from py"]}
    assert ours.reports.get(timeout=WAIT) == {"type": "server-side", "nsp": "/", "args": [1, "x"]}
    # Without one.
    assert theirs.run("server emit", event="ping", args=["no ack"]) is True
    assert ours.reports.get(timeout=WAIT)["args"] == ["no ack"]
    # Ours asks: Node answers.
    error, responses = ours.wait(
        lambda done: ours.io.server_side_emit("ping", 2, b"\x01", callback=done)
    )
    assert error is None and responses == ["pong from node"]
    assert theirs.report()["args"] == [2, b64(b"\x01")]
    ours.loop.call(lambda: ours.io.server_side_emit("ping", "no ack"))
    assert theirs.report()["args"] == ["no ack"]


def test_broadcasts_with_acks_both_ways(names: Names, stack: list[Any]) -> None:
    ours, theirs = PyServer(names, "py"), NodeServer(names, "node")
    stack.extend([ours, theirs])
    form_fleet([ours, theirs])
    client(stack, ours.url)
    client(stack, theirs.url)  # both answer a question with its arguments
    answer = theirs.run("broadcast ack", room=None, event="question", args=["q1"], timeout=3000)
    assert answer == {"error": None, "responses": ["q1", "q1"]}

    def ask(done: Callable[..., None]) -> None:
        ours.io.timeout(3).emit("question", "q2", callback=done)

    error, responses = ours.wait(ask)
    assert error is None and responses == ["q2", "q2"]


# -- recovery across hosts ------------------------------------------------------------------------


def recover_after_failover(
    names: Names,
    stack: list[Any],
    first: Any,
    second: Any,
    end_first: Callable[[], None],
    **client_options: Any,
) -> None:
    """A client of ``first`` joins a room and gets a message; ``first`` ends; while the client
    is away, a client of ``second`` sends to the room, to another room and to everyone; the
    client comes back through ``second``: recovered (same id), with exactly what it missed."""
    sender = client(stack, second.url, **client_options)
    recovering = RecoveringClient(
        first.url,
        second.url,
        **client_options,
        transports=["websocket"],
        reconnectionDelay=1500,
        reconnectionDelayMax=1500,
        randomizationFactor=0,
    )
    stack.append(recovering)
    hello = recovering.expect("connect")
    assert hello["pid"] and not hello["recovered"]
    assert recovering.call("join", "red") == ["red"]
    sender.emit("to room", "red", "m1")
    assert event_args(recovering.expect("event", name="room message")) == ["m1"]
    offset = recovering.state()["offset"]
    assert is_offset(offset)

    end_first()
    recovering.expect("disconnect")
    sender.emit("to room", "red", "m2")
    sender.emit("to room", "blue", "not for it")
    sender.emit("to room", "red", "m3", b64(b"\x07"))
    sender.emit("chat message", "S", "m4")
    # Everything is in the stream before the client is back (1.5 s after it left).
    assert sender.call("whoami")

    back = recovering.expect("connect")
    assert back["recovered"] and back["id"] == hello["id"] and back["pid"] == hello["pid"]
    missed = [
        event_args(recovering.expect("event", name=name))
        for name in ("room message", "room message", "chat message")
    ]
    assert missed == [["m2"], ["m3", b64(b"\x07")], ["m4 from S"]]
    # Back in its room on the second server: live messages, once.
    sender.emit("to room", "red", "m5")
    assert event_args(recovering.expect("event", name="room message")) == ["m5"]
    recovering.assert_no_event("room message")
    recovering.assert_no_event("chat message")
    (me,) = recovering.call("whoami")
    assert me["server"] == second.name and me["recovered"] is True
    assert set(me["rooms"]) == {hello["id"], "red"}


@pytest.mark.parametrize("second", ["python", "node"])
def test_recovery_after_kill_of_our_server(names: Names, stack: list[Any], second: str) -> None:
    first = PyProcess(names, "py-a")
    stack.append(first)
    other: Any = PyServer(names, "py-b") if second == "python" else NodeServer(names, "node-b")
    stack.append(other)
    # The second server must know the first (ours counts servers by their subscriptions).
    if isinstance(other, PyServer):
        until(lambda: other.nodes() == {first.uid}, "the fleet to form")
    else:
        until(lambda: other.run("count") == 2, "the fleet to form")
    recover_after_failover(names, stack, first, other, first.kill)


def test_msgpack_server_in_a_json_fleet(names: Names, stack: list[Any]) -> None:
    """Redis carries Node's packet objects, not a parser's bytes: our server with the msgpack
    parser (its clients too) and Node's with JSON share rooms, broadcasts and binary."""
    ours, theirs = PyServer(names, "py", parser="msgpack"), NodeServer(names, "node")
    stack.extend([ours, theirs])
    form_fleet([ours, theirs])
    on_ours, on_theirs = client(stack, ours.url, parser="msgpack"), client(stack, theirs.url)
    assert on_theirs.call("join", "red") == ["red"]
    on_ours.emit("to room", "red", "hello", b64(b"\x00\x01\xff"))
    assert event_args(on_theirs.expect("event", name="room message")) == [
        "hello",
        b64(b"\x00\x01\xff"),
    ]
    on_theirs.emit("binary", b64(b"\xfe"), {"nested": b64(b"\x00")})
    assert event_args(on_ours.expect("event", name="binary")) == [
        b64(b"\xfe"),
        {"nested": b64(b"\x00")},
    ]
    on_ours.emit("chat message", "A", "hi")
    assert event_args(on_theirs.expect("event", name="chat message")) == ["hi from A"]


def test_recovery_across_msgpack_servers(names: Names, stack: list[Any]) -> None:
    """What a restore replays from the stream is encoded with the server's parser."""
    first = PyProcess(names, "py-a", parser="msgpack")
    stack.append(first)
    second = PyServer(names, "py-b", parser="msgpack")
    stack.append(second)
    until(lambda: second.nodes() == {first.uid}, "the fleet to form")
    recover_after_failover(names, stack, first, second, first.kill, parser="msgpack")


def test_recovery_from_a_node_server_on_ours(names: Names, stack: list[Any]) -> None:
    first, second = NodeServer(names, "node-a"), PyServer(names, "py-b")
    stack.extend([first, second])
    form_fleet([first, second])
    # Node keeps a session when its socket leaves (here: the server shuts down).
    recover_after_failover(names, stack, first, second, first.stop)


def test_session_is_written_eagerly(names: Names, stack: list[Any]) -> None:
    """Beyond Node: a socket's session is in Redis while it is connected (so that a kill -9
    of its server loses nothing), with its rooms, and goes when it leaves for good."""
    ours = PyServer(names, "py")
    stack.append(ours)
    on_ours = RecoveringClient(ours.url, ours.url, transports=["websocket"])
    stack.append(on_ours)
    pid = on_ours.expect("connect")["pid"]
    key = names.sessions + pid

    def stored() -> Any:
        from cluster.redis.streams_format import decode_session

        value = redis_command("GET", key)
        return None if value is None else decode_session(value)

    until(lambda: stored() is not None, "the session in Redis")
    assert on_ours.call("join", "red") == ["red"]
    until(lambda: "red" in stored().rooms, "the session's rooms")
    ttl = redis_command("PTTL", key)
    assert WINDOW * 1000 < ttl <= WINDOW * 1500
    on_ours.close()  # a voluntary disconnect: the session goes
    until(lambda: stored() is None, "the session deleted")


# -- the link's bookkeeping, on fake connections (no Redis) ---------------------------------------


class FakeClient:
    """Records commands; the test answers them (``reply``), in order, as Redis would."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[tuple[tuple[Any, ...], Callable[[Any], None] | None]] = []
        self.connected = True

    def command(self, *args: Any, callback: Callable[[Any], None] | None = None) -> None:
        self.sent.append((args, callback))

    def take(self, name: str) -> tuple[tuple[Any, ...], Callable[[Any], None]]:
        """The oldest unanswered command ``name`` (with a callback)."""
        for index, (args, callback) in enumerate(self.sent):
            if args[0] == name:
                del self.sent[index]
                assert callback is not None
                return args, callback
        raise AssertionError(f"no {name} among {[args[0] for args, _ in self.sent]}")

    def subscribe(self, *channels: str) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
def fake_link(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from cluster.redis import streams

    monkeypatch.setattr(streams, "RedisClient", FakeClient)
    monkeypatch.setattr(streams, "_ReaderClient", FakeClient)
    monkeypatch.setattr(streams, "RedisSubscriber", FakeClient)
    reactor = Reactor()
    link = streams.RedisStreams(reactor, "redis://fake", stream_name="s")
    yield link
    link.close()
    reactor.close()


def entry(entry_id: str, uid: str, *args: Any, rooms: tuple[str, ...] = ()) -> list[Any]:
    """A stream entry of a broadcast of ``args`` to ``rooms``, as XRANGE gives it."""
    from cluster.messages import ClusterMessage, MessageType
    from cluster.redis.streams_format import encode_entry

    data = {
        "packet": sio.Packet(sio.PacketType.EVENT, "/", list(args)),
        "opts": {"rooms": list(rooms), "except": [], "flags": {}},
    }
    fields = encode_entry(ClusterMessage(uid, "/", MessageType.BROADCAST, data))
    return [entry_id.encode(), [field.encode() for field in fields]]


def test_logged_broadcasts_are_delivered_in_order(fake_link: Any) -> None:
    from cluster.messages import ClusterMessage, MessageType

    delivered: list[tuple[str, str | None]] = []
    packet = sio.Packet(sio.PacketType.EVENT, "/", ["x"])
    message = ClusterMessage(fake_link.uid, "/", MessageType.BROADCAST, {"packet": packet})
    for name, everywhere in (("first", True), ("local", False), ("second", True)):
        fake_link.publish_logged(
            message, everywhere, lambda offset, name=name: delivered.append((name, offset))
        )
    assert delivered == []  # the local one waits for the first
    _, added = fake_link.client.take("XADD")
    added(b"5-0")
    assert delivered == [("first", "5-0"), ("local", None)]
    _, added = fake_link.client.take("XADD")
    added(RedisError("OOM"))  # not logged: delivered without an offset, as Node does
    assert delivered[-1] == ("second", None)
    assert fake_link.own_up_to == "5-0"


def test_a_restore_replays_up_to_what_this_server_delivered(fake_link: Any) -> None:
    """Entries its reader dispatched (up to ``read_up_to``) and its own broadcasts delivered
    (up to ``own_up_to``): later ones reach the socket live once it is back in its rooms."""
    from cluster.redis.streams_format import encode_session

    transport = fake_link.transport("/", recovery_options())
    transport.register("/", FakeSink())
    me, other = fake_link.uid, "0123456789abcdef"
    fake_link.read_up_to, fake_link.own_up_to = "10-0", "12-0"
    restored: list[Any] = []
    transport.restore_session("/", "pid1", "5-0", restored.append)
    client = fake_link.client
    for name in ("MULTI", "GET", "DEL"):
        client.take(name)[1](b"OK")
    session = encode_session(sio.Session("sid1", "pid1", ["sid1", "red"], {"k": 1}))
    client.take("EXEC")[1]([session.encode(), 1])
    args, answer = client.take("XRANGE")
    assert args[1:] == ("s", "5-0", "5-0")
    answer([entry("5-0", other, "seen")])
    args, answer = client.take("XRANGE")
    assert args[1:] == ("s", "5-1", "+", "COUNT", 1000)
    answer([entry("6-0", other, "a"), entry("7-0", other, "not red", rooms=("blue",))])
    assert restored == []  # 7-0 < what was delivered (12-0): read on
    fake_link.read_up_to = "14-0"  # meanwhile, the reader read on
    args, answer = client.take("XRANGE")
    assert args[2] == "7-1"
    answer(
        [
            entry("11-0", other, "b", rooms=("red",)),
            entry("12-0", me, "c"),
            entry("13-0", me, "not yet delivered here"),
            entry("14-0", other, "d"),
            entry("15-0", other, "not yet read here"),
        ]
    )
    (back,) = restored
    assert back.session == sio.Session("sid1", "pid1", ["sid1", "red"], {"k": 1})
    assert back.missed == [
        ['2["a","6-0"]'],
        ['2["b","11-0"]'],
        ['2["c","12-0"]'],
        ['2["d","14-0"]'],
    ]


@pytest.mark.parametrize(
    ("session", "offset_found"),
    [(None, [[b"5-0", []]]), (b"garbage", [[b"5-0", []]]), ("good", [])],
)
def test_a_restore_without_session_or_offset_starts_afresh(
    fake_link: Any, session: Any, offset_found: list[Any]
) -> None:
    from cluster.redis.streams_format import encode_session

    if session == "good":
        session = encode_session(sio.Session("sid1", "pid1", ["sid1"], {})).encode()
    transport = fake_link.transport("/", recovery_options())
    transport.register("/", FakeSink())
    restored: list[Any] = []
    transport.restore_session("/", "pid1", "5-0", restored.append)
    fake_link.client.take("EXEC")[1]([session, 1])
    fake_link.client.take("XRANGE")[1](offset_found)
    assert restored == [None]
    transport.restore_session("/", "pid1", "not an offset", restored.append)
    assert restored == [None, None]


def test_the_reader_dispatches_the_others_entries_with_their_offsets(fake_link: Any) -> None:
    sink = FakeSink()
    transport = fake_link.transport("/", recovery_options())
    transport.register("/", sink)
    fake_link._next_read()  # (the reader's connection is up)
    fake_link.reader.take("XREVRANGE")[1]([])  # an empty stream: read from its start
    args, answer = fake_link.reader.take("XREAD")
    assert args == ("XREAD", "COUNT", 100, "BLOCK", 5000, "STREAMS", "s", "0-0")
    other = "0123456789abcdef"
    answer(
        [
            [
                b"s",
                [
                    entry("1-0", other, "a"),
                    entry("2-0", fake_link.uid, "ours: delivered when logged"),
                    [b"3-0", [b"junk"]],
                    entry("4-0", other, "b"),
                ],
            ]
        ]
    )
    assert [message.data["packet"].data for message in sink.messages] == [
        ["a", "1-0"],
        ["b", "4-0"],
    ]
    assert fake_link.read_up_to == "4-0"
    args, answer = fake_link.reader.take("XREAD")
    assert args[-1] == "4-0"
    answer(RedisUnavailable("down"))  # read again later, from the same place
    assert fake_link.reader.sent == []
    fake_link._next_read()  # (the connection is back)
    assert fake_link.reader.take("XREAD")[0][-1] == "4-0"


def test_servers_come_and_go_with_their_subscriptions(fake_link: Any) -> None:
    sink = FakeSink()
    transport = fake_link.transport("/")
    transport.register("/", sink)
    me = fake_link.uid
    fake_link._on_channels(
        [b"socket.io#/#", b"socket.io#/#aaaa#", f"socket.io#/#{me}#".encode(), b"socket.io#/x#b#"]
    )
    assert transport.nodes == {"aaaa"}
    fake_link._on_channels([b"socket.io#/#", f"socket.io#/#{me}#".encode()])
    assert transport.nodes == frozenset() and sink.left == ["aaaa"]


class FakeSink:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.left: list[str] = []

    def on_message(self, message: Any) -> None:
        self.messages.append(message)

    def on_node_left(self, uid: str, why: str) -> None:
        self.left.append(uid)
