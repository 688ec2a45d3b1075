"""``ClusterAdapter``, sans-IO: Node's cluster adapter logic over a fake ``ClusterTransport``.

A broadcast is encoded once by its sender, published as those very Engine.IO messages and
delivered as they are by the other servers; room operations and disconnects are published and
applied, never re-published; requests (``fetch_sockets``, server-side emits with acks,
broadcasts with acks) gather every other server's answer and end, never hang, when a server
leaves or at their timeout.

The transport, the namespace, its sockets and their connections are fakes that record what is
sent. Messages between servers go through the real frame codec (``over_the_wire``), as on the
fork cluster's bus. Timers run on a real ``Reactor`` with a manual clock: time moves only when a
test says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

import cluster.adapter
import sio.adapter
from cluster.adapter import (
    REQUEST_TIMEOUT,
    ClusterAdapter,
    ClusterRequestError,
    RemoteSocket,
    decode_options,
    encode_options,
)
from cluster.frames import ALL, FrameDecoder, decode_message, encode_message
from cluster.messages import (
    ClusterMessage,
    ClusterTransport,
    EncodedPacket,
    MessageType,
    response_without_namespace,
)
from eio import Outbound
from eio.stats import EngineStats
from reactor import Reactor
from sio.adapter import BroadcastFlags, BroadcastOptions, outbound_of
from sio.broadcast import BroadcastOperator
from sio.errors import AckTimeoutError
from sio.events import EventHandlers
from sio.namespace import Namespace
from sio.protocol import JSON_PARSER, decode_messages
from sio.protocol.packet import Packet, PacketType
from sio.stats import ServerStats

# -- fakes ----------------------------------------------------------------------------------------


class ManualClock:
    def __init__(self) -> None:
        self.now_ = 1000.0

    def now(self) -> float:
        return self.now_

    def wall_time(self) -> float:
        return 1_700_000_000.0 + self.now_


class FakeServer:
    recovery = None
    parser = JSON_PARSER

    def __init__(self, reactor: Reactor) -> None:
        self.reactor = reactor
        self.stats = ServerStats()


class FakeConn:
    def __init__(self, server: FakeServer) -> None:
        # The Engine.IO server: Outbound.send_to reads reactor.quiet_tick and counts in stats.
        stats = EngineStats()
        self.server = SimpleNamespace(reactor=server.reactor, stats=stats, traffic=stats)
        self.writable = True
        self.sent: list[Outbound] = []
        #: What ``Outbound.send_to`` may write through (the session's transport).
        self.active_transport = self

    def send_outbound(self, outbound: Outbound) -> None:
        self.sent.append(outbound)


class FakeClient:
    """The socket's connection as the adapter sees it for acks."""

    def __init__(self) -> None:
        self.expected: dict[tuple[str, int], Callable[..., Any]] = {}
        self.forgotten: list[tuple[str, int]] = []

    def expect_ack(
        self, namespace: str, ack_id: int, callback: Callable[..., Any], timeout: float | None
    ) -> None:
        assert timeout is None  # the broadcast's operator has the timer
        self.expected[(namespace, ack_id)] = callback

    def forget_ack(self, namespace: str, ack_id: int) -> None:
        if self.expected.pop((namespace, ack_id), None) is not None:
            self.forgotten.append((namespace, ack_id))

    def answer(self, *args: Any) -> None:
        """The client acknowledges the (only) packet it was asked about."""
        ((key, callback),) = self.expected.items()
        del self.expected[key]
        callback(*args)


class FakeSocket:
    def __init__(self, sid: str, world: ServerNode) -> None:
        self.id = sid
        self._adapter = world.adapter
        self.conn = FakeConn(world.nsp.server)
        self.client = FakeClient()
        self.data: dict[str, Any] = {}
        self.handshake = SimpleNamespace(
            headers={"host": "example"},
            query={"EIO": "4"},
            auth={"token": sid},
            address="127.0.0.1",
            time="now",
            issued=1,
            url="/socket.io/",
            xdomain=False,
            secure=False,
        )
        self.disconnected: list[bool] = []

    @property
    def rooms(self) -> set[str]:
        return self._adapter.socket_rooms(self.id)

    def join(self, rooms: Iterable[str]) -> None:
        self._adapter.add_all(self.id, rooms)

    def leave(self, room: str) -> None:
        self._adapter.remove(self.id, room)

    def disconnect(self, close: bool = False) -> None:
        self.disconnected.append(close)


class FakeNamespace:
    def __init__(self, name: str, server: FakeServer) -> None:
        self.name = name
        self.server = server
        self.sockets: dict[str, FakeSocket] = {}
        self.server_side_handlers = EventHandlers()
        self._ack_ids = 0

    def next_ack_id(self) -> int:
        ack_id = self._ack_ids
        self._ack_ids += 1
        return ack_id


class FakeTransport:
    """Records what its adapter publishes and answers."""

    def __init__(self, uid: str, nodes: Iterable[str]) -> None:
        self.uid = uid
        self.nodes = frozenset(nodes)
        self.sinks: dict[str, Any] = {}
        self.published: list[ClusterMessage] = []
        self.responses: list[tuple[str, ClusterMessage]] = []

    def register(self, nsp: str, sink: Any) -> None:
        self.sinks[nsp] = sink

    def publish(self, message: ClusterMessage) -> None:
        self.published.append(message)

    def publish_response(self, requester_uid: str, message: ClusterMessage) -> None:
        self.responses.append((requester_uid, message))


class ServerNode:
    """One server of the cluster: its transport, one namespace and its adapter."""

    def __init__(self, reactor: Reactor, uid: str, *nodes: str, nsp: str = "/") -> None:
        self.transport = FakeTransport(uid, nodes)
        self.nsp = FakeNamespace(nsp, FakeServer(reactor))
        self.adapter = ClusterAdapter(
            cast(Namespace, self.nsp), cast(ClusterTransport, self.transport)
        )

    @property
    def published(self) -> list[ClusterMessage]:
        return self.transport.published

    @property
    def responses(self) -> list[tuple[str, ClusterMessage]]:
        return self.transport.responses

    def connect(self, sid: str, *rooms: str) -> FakeSocket:
        socket = FakeSocket(sid, self)
        self.nsp.sockets[sid] = socket
        self.adapter.add_all(sid, (sid, *rooms))
        return socket

    def receive(self, message: ClusterMessage) -> None:
        """``message`` arrives from another server, through the frame codec."""
        self.adapter.on_message(over_the_wire(message))

    def sent_nothing(self) -> bool:
        return not self.published and not self.responses


def over_the_wire(message: ClusterMessage, target: int = ALL) -> ClusterMessage:
    """``message`` as the fork cluster's bus carries it: a frame from worker ``uid``."""
    ((frame, _raw),) = FrameDecoder().feed(encode_message(message, int(message.uid), target))
    return decode_message(frame)


class Cluster:
    """Servers whose messages are carried by ``flush``: publications to every other server,
    responses to their requester."""

    def __init__(self, reactor: Reactor, *uids: str) -> None:
        self.servers = {
            uid: ServerNode(reactor, uid, *(other for other in uids if other != uid))
            for uid in uids
        }

    def __getitem__(self, uid: str) -> ServerNode:
        return self.servers[uid]

    def flush(self) -> None:
        moved = True
        while moved:
            moved = False
            for server in self.servers.values():
                published, server.transport.published = server.published, []
                responses, server.transport.responses = server.responses, []
                for message in published:
                    for other in self.servers.values():
                        if other is not server:
                            other.receive(message)
                for requester, message in responses:
                    self.servers[requester].receive(message)
                moved = moved or bool(published or responses)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def reactor(clock: ManualClock) -> Iterator[Reactor]:
    made = Reactor(clock)
    yield made
    made.close()


def advance(reactor: Reactor, clock: ManualClock, seconds: float) -> None:
    """Let ``seconds`` pass and run the timers that are due."""
    clock.now_ += seconds
    reactor.run_once(max_wait=0)


def opts(
    rooms: Iterable[str] = (),
    except_rooms: Iterable[str] = (),
    *,
    local: bool = False,
    volatile: bool = False,
    timeout: float | None = None,
) -> BroadcastOptions:
    return BroadcastOptions(
        frozenset(rooms), frozenset(except_rooms), BroadcastFlags(local, volatile, timeout)
    )


def event(*data: Any) -> Packet:
    return Packet(PacketType.EVENT, "/", list(data))


def message(uid: str, kind: MessageType, data: Any = None, nsp: str = "/") -> ClusterMessage:
    return ClusterMessage(uid, nsp, kind, data)


def encoded(packet: Packet) -> EncodedPacket:
    return EncodedPacket(outbound_of(packet).messages)


NO_OPTS = {"rooms": [], "except": [], "flags": {}}


# -- broadcast ------------------------------------------------------------------------------------


@pytest.fixture
def encodings(monkeypatch: pytest.MonkeyPatch) -> list[Packet]:
    """Every packet sio encodes for a broadcast, in order."""
    encoded: list[Packet] = []
    real_encode = JSON_PARSER.encode

    def counting(packet: Packet) -> list[str | bytes]:
        encoded.append(packet)
        return real_encode(packet)

    monkeypatch.setattr(FakeServer, "parser", JSON_PARSER._replace(encode=counting))
    return encoded


def test_adapter_broadcast_is_encoded_once_and_published_as_the_local_outbound(
    reactor: Reactor, encodings: list[Packet]
) -> None:
    sender = ServerNode(reactor, "1", "2", "3")
    red = sender.connect("a", "red")
    also_red = sender.connect("b", "red")
    blue = sender.connect("c", "red", "blue")
    sender.adapter.broadcast(event("m", "héllo", b"\x00\xff"), opts(["red"], ["blue"]))

    assert len(encodings) == 1
    (outbound,) = red.conn.sent
    assert also_red.conn.sent == [outbound] and blue.conn.sent == []
    (published,) = sender.published
    assert (published.uid, published.nsp, published.type) == ("1", "/", MessageType.BROADCAST)
    assert published.data["opts"] == {"rooms": ["red"], "except": ["blue"], "flags": {}}
    assert "requestId" not in published.data
    packet = published.data["packet"]
    assert isinstance(packet, EncodedPacket)
    assert packet.messages is outbound.messages  # the very messages, text and attachment
    assert isinstance(packet.messages[0], str) and packet.messages[0].startswith("51-")
    assert outbound.packets[0] == "4" + packet.messages[0]  # Engine.IO's message prefix
    assert packet.messages[1] == b"\x00\xff"
    assert sender.responses == []


def test_adapter_broadcast_with_no_local_recipient_is_still_published(reactor: Reactor) -> None:
    sender = ServerNode(reactor, "1", "2")
    sender.connect("a")
    sender.adapter.broadcast(event("m"), opts(["nobody-here"]))
    (published,) = sender.published
    assert published.data["packet"] == encoded(event("m"))
    assert sender.nsp.sockets["a"].conn.sent == []


def test_adapter_receiver_delivers_an_encoded_packet_without_encoding(
    reactor: Reactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    packet = encoded(event("m", "é", b"\x01"))

    def no_encoding(*_args: Any) -> Any:
        raise AssertionError("a broadcast from another server was encoded again")

    monkeypatch.setattr(sio.adapter, "outbound_of", no_encoding)
    monkeypatch.setattr(cluster.adapter, "outbound_of", no_encoding)
    receiver = ServerNode(reactor, "2", "1")
    red = receiver.connect("r", "red")
    blue = receiver.connect("b", "red", "blue")
    other = receiver.connect("o")
    data = {"packet": packet, "opts": {"rooms": ["red"], "except": ["blue"], "flags": {}}}
    receiver.receive(message("1", MessageType.BROADCAST, data))
    (outbound,) = red.conn.sent
    assert outbound.messages == packet.messages
    assert blue.conn.sent == [] and other.conn.sent == []
    assert receiver.sent_nothing()  # delivered here only, never sent on


def test_adapter_receiver_recipients_share_one_outbound(reactor: Reactor) -> None:
    receiver = ServerNode(reactor, "2", "1")
    sockets = [receiver.connect(sid) for sid in "abc"]
    receiver.receive(
        message("1", MessageType.BROADCAST, {"packet": encoded(event("m")), "opts": NO_OPTS})
    )
    outbounds = [s.conn.sent[0] for s in sockets]
    assert all(o is outbounds[0] for o in outbounds)
    assert all(len(s.conn.sent) == 1 for s in sockets)


def test_adapter_receiver_delivers_a_sio_packet_encoded_once(
    reactor: Reactor, encodings: list[Packet]
) -> None:
    """A transport may carry the packet itself (not encoded): it is encoded once, here."""
    receiver = ServerNode(reactor, "2", "1")
    sockets = [receiver.connect(sid) for sid in "ab"]
    data = {"packet": event("m", 1), "opts": NO_OPTS}
    receiver.adapter.on_message(message("1", MessageType.BROADCAST, data))  # not over the wire
    assert len(encodings) == 1
    assert sockets[0].conn.sent[0] is sockets[1].conn.sent[0]
    assert sockets[0].conn.sent[0].messages == ['2["m",1]']
    assert receiver.sent_nothing()


def test_adapter_receiver_applies_volatile(reactor: Reactor) -> None:
    receiver = ServerNode(reactor, "2", "1")
    busy = receiver.connect("busy")
    busy.conn.writable = False
    ready = receiver.connect("ready")
    data = {"packet": encoded(event("m")), "opts": {**NO_OPTS, "flags": {"volatile": True}}}
    receiver.receive(message("1", MessageType.BROADCAST, data))
    assert busy.conn.sent == [] and len(ready.conn.sent) == 1


def test_adapter_local_broadcast_publishes_nothing(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2")
    server.connect("a")
    server.adapter.broadcast(event("m"), opts(local=True))
    assert server.sent_nothing()
    assert len(server.nsp.sockets["a"].conn.sent) == 1


def test_adapter_without_nodes_publishes_nothing(reactor: Reactor) -> None:
    alone = ServerNode(reactor, "1")
    alone.connect("a", "red")
    alone.adapter.broadcast(event("m"), opts())
    alone.adapter.add_sockets(opts(), frozenset({"x"}))
    alone.adapter.del_sockets(opts(), frozenset({"red"}))
    alone.adapter.disconnect_sockets(opts(), False)
    assert alone.sent_nothing()
    assert len(alone.nsp.sockets["a"].conn.sent) == 1
    assert alone.adapter.socket_rooms("a") == {"a", "x"}
    assert alone.adapter.server_count() == 1


def test_adapter_server_count_counts_the_nodes(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2", "3")
    assert server.adapter.server_count() == 3
    server.transport.nodes = frozenset({"2"})
    assert server.adapter.server_count() == 2


def test_adapter_registers_itself_with_its_transport(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2", nsp="/admin")
    assert server.transport.sinks == {"/admin": server.adapter}
    assert server.adapter.uid == "1"


# -- options --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (opts(), {"rooms": [], "except": [], "flags": {}}),
        (
            opts(["b", "a", "é"], ["z", "y"]),
            {"rooms": ["a", "b", "é"], "except": ["y", "z"], "flags": {}},
        ),
        (opts(volatile=True), {"rooms": [], "except": [], "flags": {"volatile": True}}),
        (opts(local=True), {"rooms": [], "except": [], "flags": {"local": True}}),
        (opts(timeout=1.5), {"rooms": [], "except": [], "flags": {"timeout": 1500}}),
        (opts(timeout=0.0004), {"rooms": [], "except": [], "flags": {"timeout": 0}}),
    ],
)
def test_adapter_encode_options(options: BroadcastOptions, expected: dict[str, Any]) -> None:
    assert encode_options(options) == expected


def test_adapter_decode_options_is_always_local() -> None:
    assert decode_options({"rooms": ["a"], "except": ["b"], "flags": {}}) == opts(
        ["a"], ["b"], local=True
    )
    assert decode_options({}) == opts(local=True)
    assert decode_options({"rooms": None, "except": None, "flags": None}) == opts(local=True)
    flags = {"volatile": True, "timeout": 1500, "local": False}
    assert decode_options({"flags": flags}) == opts(local=True, volatile=True, timeout=1.5)


@pytest.mark.parametrize(
    "options",
    [opts(), opts(["r1", "r2"], ["x"], volatile=True, timeout=2.0), opts(["a"], local=True)],
)
def test_adapter_options_round_trip_as_local(options: BroadcastOptions) -> None:
    decoded = decode_options(encode_options(options))
    assert decoded == options._replace(flags=options.flags._replace(local=True))


@pytest.mark.parametrize(
    "value",
    [None, "opts", ["rooms"], {"rooms": "abc"}, {"except": 3}, {"flags": [1]}, {"flags": "x"}],
)
def test_adapter_decode_options_rejects_malformed(value: Any) -> None:
    with pytest.raises(ValueError):
        decode_options(value)


def test_adapter_decode_options_ignores_a_timeout_that_is_not_a_number() -> None:
    assert decode_options({"flags": {"timeout": "soon"}}).flags.timeout is None


# -- room operations and disconnects --------------------------------------------------------------


def test_adapter_room_operations_are_published_and_applied(reactor: Reactor) -> None:
    sender = ServerNode(reactor, "1", "2")
    sender.connect("a", "red")
    sender.adapter.add_sockets(opts(["red"]), frozenset({"green", "brown"}))
    sender.adapter.del_sockets(opts(["blue"]), frozenset({"red"}))
    sender.adapter.disconnect_sockets(opts(["green"], volatile=True), True)
    assert [(m.uid, m.nsp, m.type, m.data) for m in sender.published] == [
        (
            "1",
            "/",
            MessageType.SOCKETS_JOIN,
            {"opts": {**NO_OPTS, "rooms": ["red"]}, "rooms": ["brown", "green"]},
        ),
        (
            "1",
            "/",
            MessageType.SOCKETS_LEAVE,
            {"opts": {**NO_OPTS, "rooms": ["blue"]}, "rooms": ["red"]},
        ),
        (
            "1",
            "/",
            MessageType.DISCONNECT_SOCKETS,
            {
                "opts": {"rooms": ["green"], "except": [], "flags": {"volatile": True}},
                "close": True,
            },
        ),
    ]
    assert sender.adapter.socket_rooms("a") == {"a", "red", "green", "brown"}  # applied here too
    assert sender.nsp.sockets["a"].disconnected == [True]


def test_adapter_received_room_operations_are_applied_not_republished(reactor: Reactor) -> None:
    sender = ServerNode(reactor, "1", "2")
    sender.adapter.add_sockets(opts(["red"]), frozenset({"green"}))
    sender.adapter.del_sockets(opts(["blue"]), frozenset({"red"}))
    sender.adapter.disconnect_sockets(opts(["green"]), True)

    receiver = ServerNode(reactor, "2", "1")
    r = receiver.connect("r", "red")
    b = receiver.connect("b", "blue", "red")
    x = receiver.connect("x")
    for published in sender.published:
        receiver.receive(published)
    assert receiver.adapter.socket_rooms("r") == {"r", "red", "green"}
    assert receiver.adapter.socket_rooms("b") == {"b", "blue", "green"}
    assert receiver.adapter.socket_rooms("x") == {"x"}
    assert r.disconnected == [True] and b.disconnected == [True] and x.disconnected == []
    assert receiver.sent_nothing()


def test_adapter_local_operations_are_not_published(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2")
    server.connect("a")
    server.adapter.add_sockets(opts(local=True), frozenset({"x"}))
    server.adapter.del_sockets(opts(local=True), frozenset({"x"}))
    server.adapter.disconnect_sockets(opts(local=True), False)
    assert server.sent_nothing()
    assert server.nsp.sockets["a"].disconnected == [False]


def test_adapter_ignores_its_own_messages_and_other_namespaces(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2")
    a = server.connect("a")
    broadcast = {"packet": encoded(event("m")), "opts": NO_OPTS}
    server.receive(message("1", MessageType.BROADCAST, broadcast))  # its own uid
    server.receive(message("2", MessageType.BROADCAST, broadcast, nsp="/other"))
    join = {"opts": NO_OPTS, "rooms": ["x"]}
    server.receive(message("1", MessageType.SOCKETS_JOIN, join))
    server.receive(message("2", MessageType.SOCKETS_JOIN, join, nsp="/other"))
    server.receive(
        message("2", MessageType.FETCH_SOCKETS, {"opts": NO_OPTS, "requestId": "r"}, nsp="/x")
    )
    assert a.conn.sent == []
    assert server.adapter.socket_rooms("a") == {"a"}
    assert server.sent_nothing()
    server.receive(message("2", MessageType.SOCKETS_JOIN, join))
    assert server.adapter.socket_rooms("a") == {"a", "x"}


@pytest.mark.parametrize(
    "kind", [MessageType.INITIAL_HEARTBEAT, MessageType.HEARTBEAT, MessageType.ADAPTER_CLOSE]
)
def test_adapter_heartbeats_and_close_from_others_change_nothing(
    reactor: Reactor, kind: MessageType
) -> None:
    server = ServerNode(reactor, "1", "2")
    server.connect("a")
    server.receive(message("2", kind))
    assert server.sent_nothing()
    assert server.nsp.sockets["a"].conn.sent == []


def test_adapter_close_publishes_adapter_close(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2")
    server.adapter.close()
    assert server.published == [message("1", MessageType.ADAPTER_CLOSE)]


# -- fetch_sockets --------------------------------------------------------------------------------


class Gathered:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Any], BaseException | None]] = []

    def __call__(self, sockets: list[Any], error: BaseException | None) -> None:
        self.calls.append((sockets, error))

    def only(self) -> tuple[list[Any], BaseException | None]:
        (call,) = self.calls
        return call


def start_fetch(
    server: ServerNode, options: BroadcastOptions | None = None
) -> tuple[Gathered, str]:
    options = options or opts()
    done = Gathered()
    server.adapter.fetch_sockets(options, done)
    (request,) = server.published
    assert request.type is MessageType.FETCH_SOCKETS
    assert request.data["opts"] == encode_options(options)
    server.published.clear()
    return done, str(request.data["requestId"])


def fetch_answer(uid: str, rid: Any, sockets: list[Any]) -> ClusterMessage:
    return message(uid, MessageType.FETCH_SOCKETS_RESPONSE, {"requestId": rid, "sockets": sockets})


def test_adapter_fetch_sockets_gathers_every_node(reactor: Reactor) -> None:
    servers = Cluster(reactor, "1", "2", "3")
    mine = servers["1"].connect("a1", "red")
    servers["1"].connect("b1")
    s2 = servers["2"].connect("a2", "red")
    s2.data.update(name="ann", avatar=b"\x89PNG")
    servers["3"].connect("a3", "red", "blue")
    servers["3"].connect("b3", "blue")
    done = Gathered()
    servers["1"].adapter.fetch_sockets(opts(["red"]), done)
    (request,) = servers["1"].published
    assert request.data == {
        "opts": {**NO_OPTS, "rooms": ["red"]},
        "requestId": request.data["requestId"],
    }
    servers.flush()
    sockets, error = done.only()
    assert error is None
    assert sockets[0] is mine  # this server's own, as they are
    remote = sockets[1:]
    assert all(isinstance(s, RemoteSocket) for s in remote)
    by_id = {s.id: s for s in remote}
    assert set(by_id) == {"a2", "a3"}
    assert by_id["a2"].rooms == {"a2", "red"}
    assert by_id["a2"].data == {"name": "ann", "avatar": b"\x89PNG"}  # binary intact
    assert by_id["a3"].rooms == {"a3", "red", "blue"}
    assert by_id["a3"].handshake["auth"] == {"token": "a3"}
    assert by_id["a3"].handshake["address"] == "127.0.0.1"
    # Each answer went to the requester only.
    assert all(server.sent_nothing() for server in servers.servers.values())


def test_adapter_fetch_sockets_waits_for_every_node(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2", "3")
    done, rid = start_fetch(server)
    server.receive(fetch_answer("2", rid, [{"id": "x"}]))
    assert done.calls == []
    server.receive(fetch_answer("3", rid, []))
    sockets, error = done.only()
    assert error is None and [s.id for s in sockets] == ["x"]


def test_adapter_fetch_sockets_without_nodes_answers_at_once(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1")
    a = server.connect("a")
    done = Gathered()
    server.adapter.fetch_sockets(opts(), done)
    assert done.only() == ([a], None)
    assert server.sent_nothing()


def test_adapter_fetch_sockets_local_stays_local(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2")
    a = server.connect("a")
    done = Gathered()
    server.adapter.fetch_sockets(opts(local=True), done)
    assert done.only() == ([a], None)
    assert server.sent_nothing()


def test_adapter_fetch_sockets_ends_when_a_node_leaves(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2", "3")
    a = server.connect("a")
    done, rid = start_fetch(server)
    server.receive(fetch_answer("2", rid, [{"id": "b"}]))
    server.adapter.on_node_left("3", "worker 3 died")
    sockets, error = done.only()
    assert sockets[0] is a and [s.id for s in sockets[1:]] == ["b"]
    assert isinstance(error, ClusterRequestError)
    assert "worker 3 died" in str(error)
    # Its timer was cancelled, a late answer changes nothing.
    server.receive(fetch_answer("3", rid, [{"id": "late"}]))
    server.adapter.on_node_left("2", "worker 2 died")
    assert len(done.calls) == 1


def test_adapter_fetch_sockets_node_left_names_every_missing_node(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2", "3")
    done, _rid = start_fetch(server)
    server.adapter.on_node_left("9", "worker 9 died")  # never asked: nothing
    server.adapter.on_node_left("2", "worker 2 died")
    assert done.calls == []
    server.adapter.on_node_left("3", "worker 3 is unreachable: the master went away")
    sockets, error = done.only()
    assert sockets == []
    assert "worker 2 died" in str(error)
    assert "worker 3 is unreachable: the master went away" in str(error)


def test_adapter_fetch_sockets_times_out_with_what_it_has(
    reactor: Reactor, clock: ManualClock
) -> None:
    server = ServerNode(reactor, "1", "2", "3")
    done, rid = start_fetch(server)
    server.receive(fetch_answer("3", rid, [{"id": "c"}]))
    advance(reactor, clock, REQUEST_TIMEOUT - 0.01)
    assert done.calls == []
    advance(reactor, clock, 0.02)
    sockets, error = done.only()
    assert [s.id for s in sockets] == ["c"]
    assert isinstance(error, ClusterRequestError)
    assert "no answer from server(s) 2" in str(error)
    server.receive(fetch_answer("2", rid, [{"id": "late"}]))
    assert len(done.calls) == 1


def test_adapter_fetch_sockets_timeout_flag_is_its_timeout(
    reactor: Reactor, clock: ManualClock
) -> None:
    server = ServerNode(reactor, "1", "2")
    done, _rid = start_fetch(server, opts(timeout=0.5))
    advance(reactor, clock, 0.5)
    _sockets, error = done.only()
    assert "no answer from server(s) 2" in str(error)


def test_adapter_fetch_sockets_answered_in_time_cancels_its_timer(
    reactor: Reactor, clock: ManualClock
) -> None:
    server = ServerNode(reactor, "1", "2")
    done, rid = start_fetch(server)
    server.receive(fetch_answer("2", rid, []))
    advance(reactor, clock, REQUEST_TIMEOUT * 2)
    assert done.only() == ([], None)


def test_adapter_fetch_sockets_ignores_stray_and_duplicate_answers(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2", "3")
    done, rid = start_fetch(server)
    server.receive(fetch_answer("2", "not-" + rid, [{"id": "stray"}]))
    server.receive(fetch_answer("9", rid, [{"id": "not-asked"}]))
    server.receive(fetch_answer("2", rid, [{"id": "a"}]))
    server.receive(fetch_answer("2", rid, [{"id": "again"}]))
    server.adapter.on_message(fetch_answer("2", 7, [{"id": "bad id"}]))
    server.adapter.on_message(fetch_answer("2", None, [{"id": "no id"}]))
    assert done.calls == []
    server.receive(fetch_answer("3", rid, ["not a socket", {"id": "b"}]))
    sockets, error = done.only()
    assert error is None and [s.id for s in sockets] == ["a", "b"]


def test_adapter_fetch_sockets_answered_by_a_server_without_the_namespace(
    reactor: Reactor,
) -> None:
    """A node without the namespace answers at once, empty (response_without_namespace)."""
    server = ServerNode(reactor, "1", "2")
    done = Gathered()
    server.adapter.fetch_sockets(opts(), done)
    (request,) = server.published
    answer = response_without_namespace(over_the_wire(request), "2")
    assert answer is not None
    server.receive(answer)
    assert done.only() == ([], None)


def test_adapter_remote_socket_acts_through_the_cluster(reactor: Reactor) -> None:
    servers = Cluster(reactor, "1", "2")
    target = servers["2"].connect("t", "red")
    bystander = servers["2"].connect("u", "red")
    done = Gathered()
    servers["1"].adapter.fetch_sockets(opts(["red"]), done)
    servers.flush()
    (sockets, _error) = done.only()
    (remote,) = (s for s in sockets if s.id == "t")
    assert repr(remote) == "<RemoteSocket t>"
    remote.emit("msg", "only you")
    remote.join(["x", "y"])
    remote.leave("red")
    remote.disconnect(close=True)
    kinds = [m.type for m in servers["1"].published]
    assert kinds == [
        MessageType.BROADCAST,
        MessageType.SOCKETS_JOIN,
        MessageType.SOCKETS_LEAVE,
        MessageType.DISCONNECT_SOCKETS,
    ]
    assert all(m.data["opts"]["rooms"] == ["t"] for m in servers["1"].published)
    servers.flush()
    (outbound,) = target.conn.sent
    assert outbound.messages == ['2["msg","only you"]']
    assert bystander.conn.sent == []
    assert servers["2"].adapter.socket_rooms("t") == {"t", "x", "y"}
    assert servers["2"].adapter.socket_rooms("u") == {"u", "red"}
    assert target.disconnected == [True] and bystander.disconnected == []


# -- server-side emit -----------------------------------------------------------------------------


class Answers:
    def __init__(self) -> None:
        self.calls: list[tuple[BaseException | None, list[Any]]] = []

    def __call__(self, error: BaseException | None, responses: list[Any]) -> None:
        self.calls.append((error, responses))


def test_adapter_server_side_emit_without_ack_publishes(reactor: Reactor) -> None:
    sender = ServerNode(reactor, "1", "2")
    sender.adapter.server_side_emit(["note", 1, b"\x00\xff"], None)
    (published,) = sender.published
    assert published.type is MessageType.SERVER_SIDE_EMIT
    assert published.data == {"packet": ["note", 1, b"\x00\xff"]}

    receiver = ServerNode(reactor, "2", "1")
    got: list[tuple[Any, ...]] = []
    receiver.nsp.server_side_handlers.on("note", lambda *args: got.append(args))
    receiver.receive(published)
    assert got == [(1, b"\x00\xff")]
    assert receiver.sent_nothing()  # no ack asked: no answer


def test_adapter_server_side_emit_with_ack_gathers_one_response_per_node(
    reactor: Reactor,
) -> None:
    servers = Cluster(reactor, "1", "2", "3")
    for uid in ("2", "3"):

        @servers[uid].nsp.server_side_handlers.on("probe")
        def probe(origin: str, ack: Callable[..., None], _uid: str = uid) -> None:
            ack({"worker": _uid, "origin": origin, "raw": b"\x01"}, "second argument dropped")

    answers = Answers()
    servers["1"].adapter.server_side_emit(["probe", "1"], answers)
    (request,) = servers["1"].published
    assert request.data == {"packet": ["probe", "1"], "requestId": request.data["requestId"]}
    servers.flush()
    ((error, responses),) = answers.calls
    assert error is None
    assert sorted(responses, key=lambda r: r["worker"]) == [
        {"worker": "2", "origin": "1", "raw": b"\x01"},
        {"worker": "3", "origin": "1", "raw": b"\x01"},
    ]


def test_adapter_server_side_emit_answers_at_most_once(reactor: Reactor) -> None:
    receiver = ServerNode(reactor, "2", "1")
    acks: list[Callable[..., None]] = []
    receiver.nsp.server_side_handlers.on("probe", lambda ack: acks.append(ack))
    receiver.receive(
        message("1", MessageType.SERVER_SIDE_EMIT, {"packet": ["probe"], "requestId": "r"})
    )
    assert receiver.responses == []  # not yet: the handler answers when it likes
    (ack,) = acks
    ack("first", "ignored")
    ack("second")
    assert receiver.responses == [
        (
            "1",
            message(
                "2", MessageType.SERVER_SIDE_EMIT_RESPONSE, {"requestId": "r", "packet": "first"}
            ),
        )
    ]


def test_adapter_server_side_emit_ack_without_arguments_answers_none(reactor: Reactor) -> None:
    receiver = ServerNode(reactor, "2", "1")
    receiver.nsp.server_side_handlers.on("probe", lambda: None)  # acknowledged, no value
    receiver.receive(
        message("1", MessageType.SERVER_SIDE_EMIT, {"packet": ["probe"], "requestId": "r"})
    )
    ((_uid, answer),) = receiver.responses
    assert answer.data == {"requestId": "r", "packet": None}


def test_adapter_server_side_emit_without_nodes_calls_back_at_once(reactor: Reactor) -> None:
    alone = ServerNode(reactor, "1")
    answers = Answers()
    alone.adapter.server_side_emit(["probe"], answers)
    assert answers.calls == [(None, [])]
    assert alone.sent_nothing()


def test_adapter_server_side_emit_ends_when_a_node_leaves(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2", "3")
    answers = Answers()
    server.adapter.server_side_emit(["probe"], answers)
    rid = server.published[0].data["requestId"]
    server.receive(
        message("3", MessageType.SERVER_SIDE_EMIT_RESPONSE, {"requestId": rid, "packet": 3})
    )
    server.adapter.on_node_left("2", "worker 2 died")
    ((error, responses),) = answers.calls
    assert responses == [3]
    assert isinstance(error, ClusterRequestError) and "worker 2 died" in str(error)


def test_adapter_server_side_emit_times_out(reactor: Reactor, clock: ManualClock) -> None:
    server = ServerNode(reactor, "1", "2")
    answers = Answers()
    server.adapter.server_side_emit(["probe"], answers)
    advance(reactor, clock, REQUEST_TIMEOUT)
    ((error, responses),) = answers.calls
    assert responses == [] and "no answer from server(s) 2" in str(error)


def test_adapter_server_side_emit_response_without_packet_counts_as_answered(
    reactor: Reactor,
) -> None:
    server = ServerNode(reactor, "1", "2", "3")
    answers = Answers()
    server.adapter.server_side_emit(["probe"], answers)
    (request,) = server.published
    empty = response_without_namespace(over_the_wire(request), "2")
    assert empty is not None and empty.data == {"requestId": request.data["requestId"]}
    server.receive(empty)
    server.receive(
        message(
            "3",
            MessageType.SERVER_SIDE_EMIT_RESPONSE,
            {"requestId": request.data["requestId"], "packet": None},
        )
    )
    assert answers.calls == [(None, [None])]  # 3 answered None; 2 answered nothing


@pytest.mark.parametrize("packet", [[], "probe", None, {"event": "probe"}])
def test_adapter_server_side_emit_malformed_packet_is_ignored(
    reactor: Reactor, packet: Any
) -> None:
    receiver = ServerNode(reactor, "2", "1")
    got: list[Any] = []
    receiver.nsp.server_side_handlers.on_any(lambda *args: got.append(args))
    receiver.receive(
        message("1", MessageType.SERVER_SIDE_EMIT, {"packet": packet, "requestId": "r"})
    )
    assert got == [] and receiver.sent_nothing()


# -- broadcast with acknowledgements --------------------------------------------------------------


class Acks:
    def __init__(self) -> None:
        self.counts: list[int] = []
        self.answers: list[Any] = []

    def count(self, clients: int) -> None:
        self.counts.append(clients)

    def ack(self, answer: Any) -> None:
        self.answers.append(answer)


def test_adapter_broadcast_with_ack_publishes_a_broadcast_with_request_id(
    reactor: Reactor,
) -> None:
    sender = ServerNode(reactor, "1", "2")
    a = sender.connect("a", "red")
    sender.connect("b")
    acks = Acks()
    ack_id = sender.adapter.broadcast_with_ack(
        event("ask", b"\x07"), opts(["red"], timeout=2.0), acks.count, acks.ack
    )
    (published,) = sender.published
    assert published.type is MessageType.BROADCAST
    data = published.data
    assert set(data) == {"packet", "opts", "requestId"}
    assert isinstance(data["requestId"], str) and data["requestId"]
    assert data["opts"] == {"rooms": ["red"], "except": [], "flags": {"timeout": 2000}}
    # Each server asks with its own ack id: the packet travels without one.
    carried = over_the_wire(published).data["packet"]
    assert isinstance(carried, EncodedPacket)
    sent = decode_messages(carried.messages)
    assert (sent.id, sent.data) == (None, ["ask", b"\x07"])
    # Here: one ack id for every local recipient, the count reported at once.
    assert list(a.client.expected) == [("/", ack_id)]
    (outbound,) = a.conn.sent
    assert outbound.messages[0].startswith(f"51-{ack_id}[")
    assert acks.counts == [1]


def test_adapter_broadcast_with_ack_receiver_answers_count_then_acks(reactor: Reactor) -> None:
    receiver = ServerNode(reactor, "2", "1")
    receiver.nsp._ack_ids = 40  # its own counter, not the sender's
    r1 = receiver.connect("r1", "red")
    r2 = receiver.connect("r2", "red")
    other = receiver.connect("o")
    data = {
        "packet": encoded(event("ask", "q")),
        "opts": {"rooms": ["red"], "except": [], "flags": {"timeout": 2000}},
        "requestId": "rid",
    }
    receiver.receive(message("1", MessageType.BROADCAST, data))
    assert receiver.published == []
    assert receiver.responses == [
        (
            "1",
            message(
                "2", MessageType.BROADCAST_CLIENT_COUNT, {"requestId": "rid", "clientCount": 2}
            ),
        )
    ]
    assert list(r1.client.expected) == list(r2.client.expected) == [("/", 40)]
    assert r1.conn.sent[0] is r2.conn.sent[0]
    assert r1.conn.sent[0].messages == ['240["ask","q"]']
    assert other.conn.sent == [] and other.client.expected == {}
    receiver.responses.clear()
    r2.client.answer(b"\x00yes", "dropped")
    r1.client.answer()
    assert [(to, m.type, m.data) for to, m in receiver.responses] == [
        ("1", MessageType.BROADCAST_ACK, {"requestId": "rid", "packet": b"\x00yes"}),
        ("1", MessageType.BROADCAST_ACK, {"requestId": "rid", "packet": None}),
    ]
    # The binary answer crosses the wire as bytes.
    assert over_the_wire(receiver.responses[0][1], 1).data["packet"] == b"\x00yes"


def test_adapter_broadcast_with_ack_receiver_with_no_recipient_counts_zero(
    reactor: Reactor,
) -> None:
    receiver = ServerNode(reactor, "2", "1")
    receiver.connect("o")
    data = {
        "packet": encoded(event("ask")),
        "opts": {**NO_OPTS, "rooms": ["red"]},
        "requestId": "rid",
    }
    receiver.receive(message("1", MessageType.BROADCAST, data))
    ((_to, answer),) = receiver.responses
    assert answer.data == {"requestId": "rid", "clientCount": 0}


def test_adapter_broadcast_with_ack_sender_takes_counts_and_acks_until_timeout(
    reactor: Reactor, clock: ManualClock
) -> None:
    sender = ServerNode(reactor, "1", "2")
    acks = Acks()
    sender.adapter.broadcast_with_ack(event("ask"), opts(timeout=2.0), acks.count, acks.ack)
    rid = sender.published[0].data["requestId"]
    assert acks.counts == [0]  # no local recipient
    sender.receive(
        message("2", MessageType.BROADCAST_CLIENT_COUNT, {"requestId": rid, "clientCount": 2})
    )
    sender.receive(
        message("2", MessageType.BROADCAST_ACK, {"requestId": rid, "packet": [1, b"\x02"]})
    )
    sender.receive(
        message("2", MessageType.BROADCAST_ACK, {"requestId": "other", "packet": "stray"})
    )
    sender.receive(
        message("2", MessageType.BROADCAST_CLIENT_COUNT, {"requestId": "other", "clientCount": 5})
    )
    assert acks.counts == [0, 2]
    assert acks.answers == [[1, b"\x02"]]
    advance(reactor, clock, 2.0)  # its time is up: forgotten
    sender.receive(message("2", MessageType.BROADCAST_ACK, {"requestId": rid, "packet": "late"}))
    assert acks.answers == [[1, b"\x02"]]


def test_adapter_broadcast_with_ack_local_or_alone_publishes_nothing(reactor: Reactor) -> None:
    server = ServerNode(reactor, "1", "2")
    server.connect("a")
    acks = Acks()
    server.adapter.broadcast_with_ack(
        event("ask"), opts(local=True, timeout=1.0), acks.count, acks.ack
    )
    alone = ServerNode(reactor, "1")
    alone.connect("a")
    alone.adapter.broadcast_with_ack(event("ask"), opts(timeout=1.0), acks.count, acks.ack)
    assert server.sent_nothing() and alone.sent_nothing()
    assert acks.counts == [1, 1]


def test_adapter_broadcast_acks_collects_every_server(reactor: Reactor) -> None:
    """``BroadcastOperator.timeout(t).emit(..., callback=)`` over three servers."""
    servers = Cluster(reactor, "1", "2", "3")
    sockets = [servers["1"].connect("a1"), servers["2"].connect("a2"), servers["2"].connect("b2")]
    servers["3"].connect("a3", "elsewhere")  # none of the selected: counts 0
    calls = Answers()
    BroadcastOperator(servers["1"].adapter).except_("elsewhere").timeout(2.0).emit(
        "ask", "q", callback=calls
    )
    servers.flush()
    assert calls.calls == []  # every server counted, no client answered yet
    for index, socket in enumerate(sockets):
        socket.client.answer(f"answer {index}", "dropped")
        servers.flush()
    ((error, responses),) = calls.calls
    assert error is None
    assert sorted(responses) == ["answer 0", "answer 1", "answer 2"]


def test_adapter_broadcast_acks_time_out_with_the_answers_that_came(
    reactor: Reactor, clock: ManualClock
) -> None:
    servers = Cluster(reactor, "1", "2")
    mine = servers["1"].connect("a1")
    silent_here = servers["1"].connect("b1")
    quick = servers["2"].connect("a2")
    silent = servers["2"].connect("b2")
    calls = Answers()
    BroadcastOperator(servers["1"].adapter).timeout(2.0).emit("ask", callback=calls)
    servers.flush()
    mine.client.answer("mine")
    quick.client.answer("quick")
    servers.flush()
    assert calls.calls == []
    advance(reactor, clock, 2.0)
    ((error, responses),) = calls.calls
    assert isinstance(error, AckTimeoutError)
    assert sorted(responses) == ["mine", "quick"]
    # Every server stops waiting for its silent clients at the requester's timeout (the
    # receiving one from the timeout flag the broadcast carried): no ack waits forever.
    assert silent_here.client.expected == {}
    assert silent_here.client.forgotten == [("/", 0)]
    assert silent.client.expected == {}
    assert [namespace for namespace, _id in silent.client.forgotten] == ["/"]
    assert mine.client.forgotten == []
    assert len(calls.calls) == 1


# -- malformed messages ---------------------------------------------------------------------------

MALFORMED = [
    (MessageType.BROADCAST, {"packet": EncodedPacket(['2["m"]']), "opts": "bad"}),
    (MessageType.BROADCAST, {"packet": EncodedPacket(['2["m"]']), "opts": {"rooms": 5}}),
    (MessageType.BROADCAST, {"packet": EncodedPacket(['2["m"]']), "opts": {"flags": [1]}}),
    (
        MessageType.BROADCAST,
        {"packet": EncodedPacket(["not a packet"]), "opts": NO_OPTS, "requestId": "r"},
    ),
    (MessageType.BROADCAST, {"packet": EncodedPacket(['2["m"]']), "opts": 1, "requestId": "r"}),
    (MessageType.SOCKETS_JOIN, {"opts": {"flags": "x"}, "rooms": ["x"]}),
    (MessageType.SOCKETS_JOIN, {"opts": NO_OPTS, "rooms": 5}),
    (MessageType.SOCKETS_JOIN, "not an object"),
    (MessageType.SOCKETS_LEAVE, {"opts": [], "rooms": ["a"]}),
    (MessageType.DISCONNECT_SOCKETS, {"opts": "x", "close": True}),
    (MessageType.DISCONNECT_SOCKETS, None),
    (MessageType.FETCH_SOCKETS, {"opts": 1, "requestId": "r"}),
    (MessageType.FETCH_SOCKETS_RESPONSE, {"requestId": ["x"], "sockets": 3}),
    (MessageType.SERVER_SIDE_EMIT_RESPONSE, {"requestId": {"x": 1}}),
    (MessageType.BROADCAST_CLIENT_COUNT, {"requestId": ["unhashable"], "clientCount": 1}),
    (MessageType.BROADCAST_ACK, {"requestId": {"un": "hashable"}, "packet": 1}),
    (MessageType.BROADCAST, {"opts": NO_OPTS}),  # no packet (another transport's bug)
    (MessageType.BROADCAST, {"packet": '2["m"]', "opts": NO_OPTS}),  # neither kind of packet
]


@pytest.mark.parametrize(
    ("kind", "data"), MALFORMED, ids=[f"{k.name}-{i}" for i, (k, _d) in enumerate(MALFORMED)]
)
def test_adapter_malformed_message_costs_only_that_message(
    reactor: Reactor, caplog: pytest.LogCaptureFixture, kind: MessageType, data: Any
) -> None:
    server = ServerNode(reactor, "2", "1")
    a = server.connect("a", "red")
    with caplog.at_level(logging.WARNING, logger="cluster.adapter"):
        server.adapter.on_message(message("1", kind, data))  # no exception escapes
    assert a.conn.sent == [] and a.disconnected == [] and a.client.expected == {}
    assert server.adapter.socket_rooms("a") == {"a", "red"}
    assert server.sent_nothing()
    # The next message is handled as usual.
    server.receive(
        message("1", MessageType.BROADCAST, {"packet": encoded(event("m")), "opts": NO_OPTS})
    )
    assert len(a.conn.sent) == 1
