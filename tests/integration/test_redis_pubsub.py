"""One fleet of two servers sharing the machine's Redis (127.0.0.1:6379): a Node server (socket.io
4.8 with ``@socket.io/redis-adapter`` 8.3.0, ``tests/node/redis_pubsub_server.js``) and ours
(``sio.Server`` with ``redis_pubsub_adapter_factory``, in this process on its own reactor). Both
run the same application; the clients are the official Node client (``tests/node/sio_client.js``).

Every operation goes both ways: chat messages (each reaches every other client once), rooms and
binary, ``fetchSockets``, ``socketsJoin`` / ``socketsLeave``, ``disconnectSockets``,
``serverSideEmit`` with and without acknowledgements, broadcasts with acknowledgements,
``allRooms`` and the server count. Each test module run uses its own key prefix, so that other
users of the Redis (other tests) are neither heard nor disturbed.

Then our servers only (the clients still Node's): two of them, one with connection state
recovery (which stays per server); a request to a server that never answers (its timeout, with
what came), requests of a server alone (at once), Redis down (an error at once) and Redis
restarted (the fleet forms again by itself).
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sio

from .chat.helpers import (
    WAIT,
    Loop,
    NodeClient,
    ServerHandle,
    ServerProcess,
    b64,
    node,
    node_server,
)
from .redis_support import own_redis, redis_up

pytest.importorskip("msgpack")
pytest.importorskip("hiredis")

from cluster.redis.pubsub import RedisPubSubAdapter, redis_pubsub_adapter_factory

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}"


def _redis_command(*args: str, port: int = REDIS_PORT) -> Any:
    """One command on a fresh blocking connection (for the test's own checks); its reply, for
    the simple replies this test needs (integers, and arrays of bulk strings and integers)."""
    with socket.create_connection((REDIS_HOST, port), timeout=WAIT) as conn:
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            parts.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
        conn.sendall(b"".join(parts))
        reader = conn.makefile("rb")

        def read() -> Any:
            line = reader.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind == b"+":
                return rest.decode()
            if kind == b":":
                return int(rest)
            if kind == b"$":
                size = int(rest)
                return None if size < 0 else reader.read(size + 2)[:-2].decode()
            if kind == b"*":
                return [read() for _ in range(int(rest))]
            raise AssertionError(f"Redis said {line!r}")

        return read()


pytestmark = [
    pytest.mark.node,
    pytest.mark.redis,
    pytest.mark.skipif(not redis_up(), reason=f"no Redis at {REDIS_HOST}:{REDIS_PORT}"),
]


def wait_until(what: str, check: Callable[[], bool], timeout: float = WAIT) -> None:
    """Until ``check()`` holds (each try is a round trip: no sleeping), at most ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"


def numsub(channel: str, port: int = REDIS_PORT) -> int:
    reply = _redis_command("PUBSUB", "NUMSUB", channel, port=port)
    return int(reply[1])


# -- our server: the same application as redis_pubsub_server.js ----------------------------------


def install_app(io: sio.Server, name: str) -> None:
    for nsp in (io.of("/"), io.of("/other")):
        _install(nsp, name)


def _install(nsp: sio.Namespace, name: str) -> None:
    adapter = nsp.adapter
    assert isinstance(adapter, RedisPubSubAdapter)

    @nsp.on("ping-server")
    def ping(arg: Any, ack: Callable[..., None]) -> None:
        ack(f"pong from {name}: {arg}")

    @nsp.on("note")
    def note(*args: Any) -> None:
        nsp.local.emit("note", *args)

    @nsp.on("connection")
    def on_connection(socket: sio.Socket) -> None:
        auth = socket.handshake.auth or {}
        socket.data.update({"user": auth.get("user"), "server": name})
        for room in auth.get("rooms") or ():
            socket.join(room)

        @socket.on("chat message")
        def chat(user: Any, msg: Any) -> None:
            socket.broadcast.emit("chat message", f"{msg} from {user}")

        @socket.on("to-room")
        def to_room(room: str, *args: Any) -> None:
            nsp.to(room).emit("room message", *args)

        @socket.on("join")
        def join(room: str) -> str:
            socket.join(room)
            return room

        @socket.on("leave")
        def leave(room: str) -> str:
            socket.leave(room)
            return room

        @socket.on("rooms")
        def rooms() -> list[str]:
            return sorted(socket.rooms)

        @socket.on("fetch")
        def fetch(room: str | None, ack: Callable[..., None]) -> None:
            def found(sockets: list[Any], error: BaseException | None) -> None:
                described = [
                    {"id": s.id, "rooms": sorted(s.rooms), "data": s.data} for s in sockets
                ]
                ack({"error": str(error) if error else None, "sockets": described})

            (nsp.in_(room) if room else nsp).fetch_sockets(found)

        @socket.on("sockets-join")
        def sockets_join(target: str, room: str) -> None:
            nsp.in_(target).sockets_join(room)

        @socket.on("sockets-leave")
        def sockets_leave(target: str, room: str) -> None:
            nsp.in_(target).sockets_leave(room)

        @socket.on("disconnect-sockets")
        def disconnect_sockets(target: str, close: bool, ack: Callable[..., None]) -> None:
            ack()
            nsp.in_(target).disconnect_sockets(close)

        @socket.on("server-emit")
        def server_emit(event: str, *args: Any, ack: Callable[..., None]) -> None:
            def answered(error: BaseException | None, responses: list[Any]) -> None:
                ack({"error": str(error) if error else None, "responses": responses})

            nsp.server_side_emit(event, *args, callback=answered)

        @socket.on("server-emit-noack")
        def server_emit_noack(event: str, *args: Any) -> None:
            nsp.server_side_emit(event, *args)

        @socket.on("ask-all")
        def ask_all(room: str | None, ms: int, *args: Any, ack: Callable[..., None]) -> None:
            def answered(error: BaseException | None, responses: list[Any]) -> None:
                ack({"error": str(error) if error else None, "responses": responses})

            target = nsp.to(room) if room else nsp
            target.timeout(ms / 1000).emit("question", *args, callback=answered)

        @socket.on("all-rooms")
        def all_rooms(ack: Callable[..., None]) -> None:
            adapter.all_rooms(lambda rooms, error: ack(sorted(rooms)))

        @socket.on("server-count")
        def server_count() -> int:
            return adapter.server_count()


def start_python_server(
    prefix: str,
    name: str = "py",
    url: str = REDIS_URL,
    server_options: dict[str, Any] | None = None,
    **options: Any,
) -> ServerHandle:
    """Our server, with the adapter (``options`` are the factory's)."""
    loop = Loop()

    def build() -> tuple[sio.Server, str, int]:
        factory = redis_pubsub_adapter_factory(loop.reactor, url, prefix=prefix, **options)
        io = sio.Server(reactor=loop.reactor, adapter=factory, **(server_options or {}))
        install_app(io, name)
        host, port = io.listen("127.0.0.1", 0)
        return io, host, port

    io, host, port = loop.call(build)
    return ServerHandle(io, loop, host, port)


def adapter_of(server: ServerHandle, nsp: str = "/") -> RedisPubSubAdapter:
    adapter = server.io.of(nsp).adapter
    assert isinstance(adapter, RedisPubSubAdapter)
    return adapter


# -- the fleet -------------------------------------------------------------------------------------


class Fleet:
    def __init__(self, prefix: str, node_server: ServerProcess, python: ServerHandle) -> None:
        self.prefix = prefix
        self.node = node_server
        self.python = python
        self.clients: list[NodeClient] = []

    def client(self, server: str, user: str, **options: Any) -> NodeClient:
        """A connected Node client of server ``"node"`` or ``"py"``."""
        url = self.node.url if server == "node" else self.python.url
        options.setdefault("transports", ["websocket"])
        options.setdefault("reconnection", False)
        auth = {"user": user, **options.pop("auth", {})}
        client = NodeClient(url, auth=auth, **options)
        self.clients.append(client)
        client.id = client.expect("connect")["id"]  # type: ignore[attr-defined]
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    node()  # skips without node and the npm packages
    prefix = f"sio-test-{secrets.token_hex(4)}"
    node_process = node_server(
        "redis_pubsub_server.js",
        {"port": 0, "prefix": prefix, "redis": REDIS_URL, "name": "node", "requestsTimeout": 3000},
    )
    python = start_python_server(prefix, request_timeout=3.0)
    try:
        for nsp in ("/", "/other"):
            channel = f"{prefix}-request#{nsp}#"
            subscribed = lambda: numsub(channel) == 2  # noqa: B023, E731 - called at once
            wait_until(f"both servers subscribed to {channel}", subscribed)
            adapter = adapter_of(python, nsp)
            wait_until(
                "our server counting two servers",
                lambda: python.loop.call(adapter.server_count) == 2,  # noqa: B023
                timeout=3 * WAIT,
            )
        yield Fleet(prefix, node_process, python)
    finally:
        python.stop()
        node_process.stop()


@pytest.fixture
def clients(fleet: Fleet) -> Iterator[Fleet]:
    yield fleet
    fleet.close_clients()


# -- tests -----------------------------------------------------------------------------------------


def test_chat_messages_reach_every_other_client_once(clients: Fleet) -> None:
    users = [("node", "A"), ("py", "B"), ("node", "C"), ("py", "D")]
    connected = [(user, clients.client(server, user)) for server, user in users]
    for user, client in connected:
        client.emit("chat message", user, f"hi {user}")
    for user, client in connected:
        expected = {f"hi {other} from {other}" for other, _ in connected if other != user}
        got = {client.expect("event", name="chat message")["args"][0] for _ in range(len(expected))}
        assert got == expected, user
    for _user, client in connected:
        client.assert_no_event("chat message")  # not twice, not its own


def test_rooms_and_binary_across(clients: Fleet) -> None:
    in_node = clients.client("node", "A", auth={"rooms": ["r1"]})
    in_py = clients.client("py", "B", auth={"rooms": ["r1"]})
    outside_node = clients.client("node", "C")
    outside_py = clients.client("py", "D")
    blob = bytes(range(256))
    for sender in (outside_node, outside_py):  # one room: the room's own channel
        sender.emit("to-room", "r1", "x", b64(blob), {"nested": b64(b"\x00")})
        for member in (in_node, in_py):
            event = member.expect("event", name="room message")
            assert event["args"] == ["x", b64(blob), {"nested": b64(b"\x00")}]
    # Several rooms: the namespace's channel, each recipient once.
    in_py.call("join", "r2")
    outside_node.emit("to-room", ["r1", "r2"], "both")
    for member in (in_node, in_py):
        assert member.expect("event", name="room message")["args"] == ["both"]
    for client in (in_node, in_py, outside_node, outside_py):
        client.assert_no_event("room message")


def test_namespaces_stay_apart(clients: Fleet) -> None:
    main_py = clients.client("py", "A")
    other_node = clients.client("node", "B", namespace="/other")
    other_py = clients.client("py", "C", namespace="/other")
    other_node.emit("chat message", "B", "hello other")
    assert other_py.expect("event", name="chat message")["args"] == ["hello other from B"]
    main_py.assert_no_event("chat message")


def _described(client: NodeClient, room: str | None) -> dict[str, dict[str, Any]]:
    (answer,) = client.call("fetch", room)
    assert answer["error"] is None, answer
    return {s["id"]: s for s in answer["sockets"]}


def test_fetch_sockets_both_ways(clients: Fleet) -> None:
    a = clients.client("node", "A", auth={"rooms": ["blue"]})
    b = clients.client("py", "B", auth={"rooms": ["blue"]})
    c = clients.client("py", "C")
    everyone = {a.id, b.id, c.id}  # type: ignore[attr-defined]
    for asker in (a, b):
        found = _described(asker, None)
        assert set(found) == everyone
        assert found[a.id]["data"] == {"user": "A", "server": "node"}  # type: ignore[attr-defined]
        assert found[b.id]["data"] == {"user": "B", "server": "py"}  # type: ignore[attr-defined]
        assert found[b.id]["rooms"] == sorted([b.id, "blue"])  # type: ignore[attr-defined]
        assert set(_described(asker, "blue")) == {a.id, b.id}  # type: ignore[attr-defined]


def test_sockets_join_and_leave_both_ways(clients: Fleet) -> None:
    a = clients.client("node", "A")
    b = clients.client("py", "B")
    for actor, target in ((a, b), (b, a)):
        target_id = target.id  # type: ignore[attr-defined]
        actor.call("sockets-join", target_id, "vip")
        wait_until("joined", lambda: "vip" in target.call("rooms")[0])  # noqa: B023
        actor.emit("to-room", "vip", "welcome")
        assert target.expect("event", name="room message")["args"] == ["welcome"]
        actor.call("sockets-leave", target_id, "vip")
        wait_until("left", lambda: "vip" not in target.call("rooms")[0])  # noqa: B023
    # Everywhere at once, this server's sockets included.
    a.call("sockets-join", a.id, "all")  # type: ignore[attr-defined]
    b.call("sockets-join", b.id, "all")  # type: ignore[attr-defined]
    a_id, b_id = a.id, b.id  # type: ignore[attr-defined]
    a.call("sockets-join", "all", "everyone")
    wait_until("everyone", lambda: set(_described(b, "everyone")) == {a_id, b_id})


def test_disconnect_sockets_both_ways(clients: Fleet) -> None:
    a = clients.client("node", "A")
    b = clients.client("py", "B")
    a.call("disconnect-sockets", b.id, False)  # type: ignore[attr-defined]
    assert b.expect("disconnect")["reason"] == "io server disconnect"
    c = clients.client("py", "C")
    c.call("disconnect-sockets", a.id, True)  # type: ignore[attr-defined]
    assert a.expect("disconnect")["reason"] in ("io server disconnect", "transport close")
    c.assert_no_event("disconnect")


def test_server_side_emit_both_ways(clients: Fleet) -> None:
    a = clients.client("node", "A")
    b = clients.client("py", "B")
    (answer,) = a.call("server-emit", "ping-server", "from node")
    assert answer == {"error": None, "responses": ["pong from py: from node"]}
    (answer,) = b.call("server-emit", "ping-server", "from py")
    assert answer == {"error": None, "responses": ["pong from node: from py"]}
    # Without acknowledgement: each other server's handler tells its own clients.
    a.emit("server-emit-noack", "note", "n1", 2)
    assert b.expect("event", name="note")["args"] == ["n1", 2]
    b.emit("server-emit-noack", "note", "n2", {"k": [1]})
    assert a.expect("event", name="note")["args"] == ["n2", {"k": [1]}]
    a.assert_no_event("note")  # not to the sender's own server
    b.assert_no_event("note")


def test_broadcast_with_acks_both_ways(clients: Fleet) -> None:
    everyone = [
        clients.client("node", "A"),
        clients.client("py", "B"),
        clients.client("node", "C"),
        clients.client("py", "D"),
    ]
    for asker in everyone[:2]:
        (answer,) = asker.call("ask-all", None, 3000, "q1", b64(b"\x01"))
        assert answer["error"] is None, answer
        assert answer["responses"] == [["q1", b64(b"\x01")][0]] * len(everyone)
        for client in everyone:
            assert client.expect("event", name="question")["args"] == ["q1", b64(b"\x01")]
    # One room, on the other server only.
    joined = everyone[3]
    joined.call("join", "room-d")
    (answer,) = everyone[0].call("ask-all", "room-d", 3000, "q2")
    assert answer == {"error": None, "responses": ["q2"]}


def test_all_rooms_and_server_count(clients: Fleet) -> None:
    a = clients.client("node", "A", auth={"rooms": ["node-room"]})
    b = clients.client("py", "B", auth={"rooms": ["py-room"]})
    for asker in (a, b):
        (rooms,) = asker.call("all-rooms")
        assert {"node-room", "py-room", a.id, b.id} <= set(rooms)  # type: ignore[attr-defined]
        assert asker.call("server-count") == [2]


# -- without Node: two of our servers, recovery, a server that never answers, Redis down ----------


def test_two_python_servers_and_recovery_stays_per_server() -> None:
    """Recovery on one of them: its clients get its own offsets on every event, those from the
    other server included; the other server's clients get none."""
    node()
    prefix = f"sio-test-{secrets.token_hex(4)}"
    recovering = start_python_server(
        prefix, "py1", server_options={"connection_state_recovery": True}
    )
    plain = start_python_server(prefix, "py2")
    clients: list[NodeClient] = []
    try:
        channel = f"{prefix}-request#/#"
        wait_until("both servers subscribed", lambda: numsub(channel) == 2)
        a = NodeClient(recovering.url, auth={"user": "A"}, transports=["websocket"])
        b = NodeClient(plain.url, auth={"user": "B"}, transports=["websocket"])
        clients += [a, b]
        a.expect("connect")
        b.expect("connect")
        b.emit("chat message", "B", "hi")
        text, offset = a.expect("event", name="chat message")["args"]
        assert text == "hi from B" and isinstance(offset, str) and offset
        a.emit("chat message", "A", "hello")
        assert b.expect("event", name="chat message")["args"] == ["hello from A"]
        (answer,) = b.call("fetch", None)
        assert sorted(s["data"]["user"] for s in answer["sockets"]) == ["A", "B"]
    finally:
        for client in clients:
            client.close()
        plain.stop()
        recovering.stop()


def _on_loop(server: ServerHandle, start: Callable[[Callable[..., None]], Any]) -> tuple[Any, ...]:
    """Run ``start(done)`` on the server's loop; what ``done`` got, waiting at most 3 WAIT."""
    got: list[tuple[Any, ...]] = []
    finished = threading.Event()

    def done(*args: Any) -> None:
        got.append(args)
        finished.set()

    server.loop.call(start, done)
    assert finished.wait(3 * WAIT), "the request never ended"
    return got[0]


def test_a_silent_server_costs_the_timeout_not_a_hang() -> None:
    prefix = f"sio-test-{secrets.token_hex(4)}"
    server = start_python_server(prefix, request_timeout=0.5)
    silent = socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=WAIT)
    try:
        channel = f"{prefix}-request#/#"
        wait_until("our server subscribed", lambda: numsub(channel) == 1)
        # Another "server" of the namespace that never answers.
        body = f"*2\r\n$9\r\nSUBSCRIBE\r\n${len(channel)}\r\n{channel}\r\n".encode()
        silent.sendall(body)
        wait_until("the silent server subscribed", lambda: numsub(channel) == 2)
        io = server.io
        started = time.monotonic()
        sockets, error = _on_loop(server, lambda done: io.fetch_sockets(done))
        assert sockets == []
        assert "timeout reached" in str(error)
        assert 0.4 < time.monotonic() - started < 3
        error, responses = _on_loop(
            server, lambda done: io.server_side_emit("ping-server", 1, callback=done)
        )
        assert responses == [] and "timeout reached" in str(error)
    finally:
        silent.close()
        server.stop()


def test_alone_requests_end_at_once() -> None:
    server = start_python_server(f"sio-test-{secrets.token_hex(4)}", request_timeout=30)
    try:
        channel = f"{adapter_of(server).channels.request}"
        wait_until("our server subscribed", lambda: numsub(channel) == 1)
        io = server.io
        assert _on_loop(server, lambda done: io.fetch_sockets(done)) == ([], None)
        error, responses = _on_loop(server, lambda done: io.server_side_emit("x", callback=done))
        assert (error, responses) == (None, [])
    finally:
        server.stop()


def test_redis_down_fails_requests_at_once() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_python_server(
        "sio-test-down", url=f"redis://127.0.0.1:{port}", request_timeout=30
    )
    try:
        io = server.io
        started = time.monotonic()
        sockets, error = _on_loop(server, lambda done: io.fetch_sockets(done))
        assert sockets == [] and error is not None
        error, responses = _on_loop(server, lambda done: io.server_side_emit("x", callback=done))
        assert responses == [] and error is not None
        assert time.monotonic() - started < WAIT
        # Broadcasts still reach this server's own clients (none here): no exception.
        server.loop.call(io.emit, "hello", b"\x00")
    finally:
        server.stop()


def test_redis_restart() -> None:
    """Redis goes away: each server still delivers to its own clients; it comes back: the
    servers subscribe again and form the fleet again by themselves."""
    node()
    with own_redis() as redis:
        prefix = f"sio-test-{secrets.token_hex(4)}"
        first = start_python_server(prefix, "py1", url=redis.url)
        second = start_python_server(prefix, "py2", url=redis.url)
        clients: list[NodeClient] = []

        def connect(server: ServerHandle, user: str) -> NodeClient:
            client = NodeClient(server.url, auth={"user": user}, transports=["websocket"])
            clients.append(client)
            client.expect("connect")
            return client

        channel = f"{prefix}-request#/#"
        fleet = lambda: numsub(channel, redis.port) == 2  # noqa: E731
        try:
            wait_until("both servers subscribed", fleet)
            a, a2, b = connect(first, "A"), connect(first, "A2"), connect(second, "B")
            a.emit("chat message", "A", "one")
            for other in (a2, b):
                assert other.expect("event", name="chat message")["args"] == ["one from A"]

            redis.stop()
            a.emit("chat message", "A", "two")  # Redis down: this server's clients only
            assert a2.expect("event", name="chat message")["args"] == ["two from A"]
            b.assert_no_event("chat message")

            redis.start()
            wait_until("both servers subscribed again", fleet, timeout=4 * WAIT)
            b.emit("chat message", "B", "three")
            for other in (a, a2):
                assert other.expect("event", name="chat message")["args"] == ["three from B"]
            (answer,) = b.call("fetch", None)
            assert answer["error"] is None
            assert sorted(s["data"]["user"] for s in answer["sockets"]) == ["A", "A2", "B"]
        finally:
            for client in clients:
                client.close()
            second.stop()
            first.stop()
