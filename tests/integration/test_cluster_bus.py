"""The cluster bus in one process (a metrics scrape over it at the end): a worker's
``WorkerBus`` (the fork cluster's ``ClusterTransport``) on one end of a socket pair, the test
playing the master and the other workers on the other; and the master's relay (``_HubLink`` /
``Supervisor._relay``) with recording links.

Who is up comes from the master's control frames; messages go to every peer or to one
requester; a request for a namespace this worker lacks is answered at once; a peer's death and
the master going away reach every sink, so that no request waits for a worker that is gone."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from cluster.adapter import ClusterAdapter, ClusterRequestError, RemoteSocket
from cluster.bus import WorkerBus
from cluster.frames import (
    ALL,
    MASTER,
    Control,
    Frame,
    FrameDecoder,
    Metrics,
    decode_json,
    decode_message,
    encode_frame,
    encode_json,
    encode_message,
)
from cluster.messages import ClusterMessage, EncodedPacket, MessageType
from cluster.supervisor import ClusterConfig, Supervisor, _HubLink
from reactor import Reactor, Stream
from sio.adapter import BroadcastOptions
from sio.namespace import Namespace
from sio.protocol import JSON_PARSER

WAIT = 5.0
ADMIN = "/admin™"


class Master:
    """The test's end of the bus: frames to the worker (as the master, or relayed from another
    worker), frames from it."""

    def __init__(self, reactor: Reactor, sock: socket.socket) -> None:
        self.reactor = reactor
        self.sock = sock
        sock.setblocking(False)
        self.decoder = FrameDecoder()
        self.frames: list[Frame] = []

    def control(self, kind: Control, body: dict[str, Any], target: int = 1) -> None:
        self.sock.sendall(encode_frame(kind, MASTER, target, encode_json(body)))

    def relay(self, message: ClusterMessage, target: int = ALL) -> None:
        """``message`` from worker ``message.uid``, as the master relays it."""
        self.sock.sendall(encode_message(message, int(message.uid), target))

    def pump(self, condition: Callable[[], bool], timeout: float = WAIT) -> None:
        """Run the worker's reactor (and read what it sends) until ``condition()``."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            self.reactor.run_once(max_wait=0.01)
            if self.sock.fileno() == -1:
                continue  # the test closed its end
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                continue
            self.frames.extend(frame for frame, _raw in self.decoder.feed(data))

    def next_frame(self) -> Frame:
        count = len(self.frames)
        self.pump(lambda: len(self.frames) > count)
        return self.frames[count]


class RecordingSink:
    def __init__(self) -> None:
        self.messages: list[ClusterMessage] = []
        self.left: list[tuple[str, str]] = []

    def on_message(self, message: ClusterMessage) -> None:
        self.messages.append(message)

    def on_node_left(self, uid: str, why: str) -> None:
        self.left.append((uid, why))


class Worker:
    def __init__(self) -> None:
        self.reactor = Reactor()
        worker_end, master_end = socket.socketpair()
        self.eof = 0
        self.bus = WorkerBus(self.reactor, worker_end, 1, self._on_eof)
        self.master = Master(self.reactor, master_end)

    def _on_eof(self) -> None:
        self.eof += 1

    def hello(self, *workers: int) -> None:
        self.master.control(Control.HELLO, {"workers": [1, *workers]})
        self.master.pump(lambda: self.bus.peers == set(workers))

    def sink(self, nsp: str = "/") -> RecordingSink:
        sink = RecordingSink()
        self.bus.register(nsp, sink)
        return sink

    def close(self) -> None:
        self.master.sock.close()
        self.bus.stream.abort()
        self.reactor.close()


@pytest.fixture
def worker() -> Iterator[Worker]:
    made = Worker()
    yield made
    made.close()


def fetch(uid: str, nsp: str, rid: str) -> ClusterMessage:
    opts = {"rooms": [], "except": [], "flags": {}}
    return ClusterMessage(uid, nsp, MessageType.FETCH_SOCKETS, {"opts": opts, "requestId": rid})


def expect_sentinel(worker: Worker, rid: str) -> None:
    """The next frame from the worker answers sentinel request ``rid`` (sent by worker 2 for a
    namespace it lacks): anything the worker sent before it would have come first."""
    worker.master.relay(fetch("2", "/no-such-namespace", rid))
    frame = worker.master.next_frame()
    answer = decode_message(frame)
    assert (frame.target, answer.type, answer.data) == (
        2,
        MessageType.FETCH_SOCKETS_RESPONSE,
        {"requestId": rid, "sockets": []},
    )


# -- peers ----------------------------------------------------------------------------------------


def test_bus_uid_is_the_worker_id(worker: Worker) -> None:
    assert worker.bus.uid == "1"
    assert worker.bus.nodes == frozenset()


def test_bus_hello_and_peers_coming_and_going(worker: Worker) -> None:
    worker.hello(2, 3)
    assert worker.bus.nodes == frozenset({"2", "3"})  # not itself
    worker.master.control(Control.WORKER_DOWN, {"worker": 3}, ALL)
    worker.master.pump(lambda: worker.bus.peers == {2})
    assert worker.bus.nodes == frozenset({"2"})
    worker.master.control(Control.WORKER_UP, {"worker": 4}, ALL)
    worker.master.pump(lambda: worker.bus.peers == {2, 4})
    assert worker.bus.nodes == frozenset({"2", "4"})
    worker.master.control(Control.HELLO, {"workers": [1]})  # a new HELLO replaces them all
    worker.master.pump(lambda: worker.bus.peers == set())
    assert worker.bus.nodes == frozenset()


# -- sending --------------------------------------------------------------------------------------


def test_bus_publish_goes_to_all(worker: Worker) -> None:
    worker.hello(2, 3)
    sent = ClusterMessage(
        "1", ADMIN, MessageType.SOCKETS_JOIN, {"opts": {"rooms": ["r"]}, "rooms": ["x"]}
    )
    worker.bus.publish(sent)
    frame = worker.master.next_frame()
    assert (frame.kind, frame.source, frame.target, frame.nsp) == (
        MessageType.SOCKETS_JOIN,
        1,
        ALL,
        ADMIN,
    )
    assert decode_message(frame) == sent


def test_bus_publish_carries_a_broadcast_as_encoded(worker: Worker) -> None:
    worker.hello(2)
    packet = EncodedPacket(['451-["m",{"_placeholder":true,"num":0}]', b"\x00\xff"])
    sent = ClusterMessage("1", "/", MessageType.BROADCAST, {"packet": packet, "opts": {}})
    worker.bus.publish(sent)
    assert decode_message(worker.master.next_frame()) == sent


def test_bus_publish_without_peers_sends_nothing(worker: Worker) -> None:
    worker.hello()
    worker.bus.publish(ClusterMessage("1", "/", MessageType.SERVER_SIDE_EMIT, {"packet": ["e"]}))
    # A response is sent whoever is up: it comes first, so the publication was not sent.
    answer = ClusterMessage("1", "/", MessageType.BROADCAST_CLIENT_COUNT, {"requestId": "r"})
    worker.bus.publish_response("2", answer)
    frame = worker.master.next_frame()
    assert (frame.kind, frame.target) == (MessageType.BROADCAST_CLIENT_COUNT, 2)


def test_bus_publish_response_goes_to_the_requester_worker(worker: Worker) -> None:
    worker.hello(2, 3)
    answer = ClusterMessage(
        "1", "/", MessageType.BROADCAST_ACK, {"requestId": "r", "packet": b"\x01"}
    )
    worker.bus.publish_response("3", answer)
    frame = worker.master.next_frame()
    assert (frame.kind, frame.source, frame.target) == (MessageType.BROADCAST_ACK, 1, 3)
    assert decode_message(frame) == answer


def test_bus_publish_response_to_a_uid_that_is_no_worker_is_dropped(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    worker.hello(2)
    answer = ClusterMessage("1", "/", MessageType.BROADCAST_ACK, {"requestId": "r"})
    worker.bus.publish_response("redis-node-7", answer)
    assert "no worker has uid 'redis-node-7'" in caplog.text
    expect_sentinel(worker, "after-the-drop")


# -- receiving ------------------------------------------------------------------------------------


def test_bus_dispatches_messages_to_the_sink_of_their_namespace(worker: Worker) -> None:
    main, admin = worker.sink("/"), worker.sink(ADMIN)
    worker.hello(2, 3)
    to_main = ClusterMessage("2", "/", MessageType.SERVER_SIDE_EMIT, {"packet": ["e", b"\x00"]})
    to_admin = ClusterMessage("3", ADMIN, MessageType.SOCKETS_LEAVE, {"opts": {}, "rooms": ["r"]})
    broadcast = ClusterMessage(
        "2", ADMIN, MessageType.BROADCAST, {"packet": EncodedPacket(['2["m"]']), "opts": {}}
    )
    worker.master.relay(to_main)
    worker.master.relay(to_admin)
    worker.master.relay(broadcast, target=1)
    worker.master.pump(lambda: len(main.messages) + len(admin.messages) == 3)
    assert main.messages == [to_main]
    assert admin.messages == [to_admin, broadcast]
    assert main.messages[0].data["packet"][1] == b"\x00"


@pytest.mark.parametrize(
    ("request_type", "data", "answer_type", "answer"),
    [
        (
            MessageType.FETCH_SOCKETS,
            {"opts": {}, "requestId": "r7"},
            MessageType.FETCH_SOCKETS_RESPONSE,
            {"requestId": "r7", "sockets": []},
        ),
        (
            MessageType.SERVER_SIDE_EMIT,
            {"packet": ["probe"], "requestId": "r7"},
            MessageType.SERVER_SIDE_EMIT_RESPONSE,
            {"requestId": "r7"},
        ),
        (
            MessageType.BROADCAST,
            {"packet": EncodedPacket(['2["ask"]']), "opts": {}, "requestId": "r7"},
            MessageType.BROADCAST_CLIENT_COUNT,
            {"requestId": "r7", "clientCount": 0},
        ),
    ],
    ids=["fetch-sockets", "server-side-emit", "broadcast-with-ack"],
)
def test_bus_answers_at_once_a_request_for_a_namespace_without_sink(
    worker: Worker,
    request_type: MessageType,
    data: dict[str, Any],
    answer_type: MessageType,
    answer: dict[str, Any],
) -> None:
    """Dynamic namespaces exist only where their clients are: say so, do not stay silent."""
    main = worker.sink("/")
    worker.hello(2, 3)
    worker.master.relay(ClusterMessage("3", "/dyn-elsewhere", request_type, data))
    frame = worker.master.next_frame()
    assert (frame.kind, frame.source, frame.target, frame.nsp) == (
        answer_type,
        1,
        3,
        "/dyn-elsewhere",
    )
    assert decode_message(frame) == ClusterMessage("1", "/dyn-elsewhere", answer_type, answer)
    assert main.messages == []


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (MessageType.BROADCAST, {"packet": EncodedPacket(['2["m"]']), "opts": {}}),
        (MessageType.SERVER_SIDE_EMIT, {"packet": ["note"]}),
        (MessageType.SOCKETS_JOIN, {"opts": {}, "rooms": ["x"]}),
        (MessageType.FETCH_SOCKETS_RESPONSE, {"requestId": "r", "sockets": []}),
        (MessageType.HEARTBEAT, None),
    ],
)
def test_bus_message_for_a_namespace_without_sink_needing_no_answer_gets_none(
    worker: Worker, kind: MessageType, data: Any
) -> None:
    main = worker.sink("/")
    worker.hello(2)
    worker.master.relay(ClusterMessage("2", "/dyn-elsewhere", kind, data))
    expect_sentinel(worker, "sentinel")
    assert main.messages == []


# -- peers leaving --------------------------------------------------------------------------------


def test_bus_worker_down_tells_every_sink(worker: Worker) -> None:
    sinks = [worker.sink("/"), worker.sink(ADMIN)]
    worker.hello(2, 3)
    worker.master.control(Control.WORKER_DOWN, {"worker": 3}, ALL)
    worker.master.pump(lambda: all(sink.left for sink in sinks))
    assert [sink.left for sink in sinks] == [[("3", "worker 3 died")]] * 2
    assert worker.bus.nodes == frozenset({"2"})
    assert worker.eof == 0


def test_bus_worker_down_of_no_peer_tells_no_one(worker: Worker) -> None:
    sink = worker.sink("/")
    worker.hello(2)
    worker.master.control(Control.WORKER_DOWN, {"worker": 5}, ALL)
    worker.master.control(Control.WORKER_DOWN, {"worker": 2}, ALL)
    worker.master.control(Control.WORKER_DOWN, {"worker": 2}, ALL)  # told twice: once
    worker.master.pump(lambda: bool(sink.left))
    expect_sentinel(worker, "after-the-downs")
    assert sink.left == [("2", "worker 2 died")]


def test_bus_master_going_away_tells_every_sink_and_stops(worker: Worker) -> None:
    sinks = [worker.sink("/"), worker.sink(ADMIN)]
    worker.hello(2, 3)
    worker.master.sock.close()
    worker.master.pump(lambda: worker.eof == 1)
    for sink in sinks:
        assert sorted(sink.left) == [
            ("2", "worker 2 is unreachable: the master went away"),
            ("3", "worker 3 is unreachable: the master went away"),
        ]
    assert worker.bus.nodes == frozenset()


def test_bus_broken_stream_from_the_master_stops_the_worker(worker: Worker) -> None:
    sink = worker.sink("/")
    worker.hello(2)
    worker.master.sock.sendall(b"\x00\x00\x00\x01garbage")  # length 1: impossible
    worker.master.pump(lambda: worker.eof == 1)
    assert sink.left == [("2", "worker 2 is unreachable: the master went away")]


@pytest.mark.parametrize(
    "bad",
    [
        encode_frame(MessageType.SOCKETS_JOIN, 2, 1, b"{not a payload", "/"),
        encode_frame(MessageType.BROADCAST, 2, 1, b"\x00\x00\x00\x02{}\x00\x00\x00\x09", "/"),
        encode_frame(99, 2, 1, b"", "/"),  # no such message type
        encode_frame(Control.HELLO, 2, 1, b"", "/"),  # a control frame, not from the master
        encode_frame(Control.WORKER_UP, MASTER, 1, b"{not json"),
        encode_frame(Control.WORKER_DOWN, MASTER, 1, encode_json({"worker": "x"})),
        encode_frame(Control.HELLO, MASTER, 1, encode_json(["not", "an", "object"])),
    ],
)
def test_bus_bad_payload_costs_only_that_frame(
    worker: Worker, caplog: pytest.LogCaptureFixture, bad: bytes
) -> None:
    sink = worker.sink("/")
    worker.hello(2)
    good = ClusterMessage("2", "/", MessageType.SERVER_SIDE_EMIT, {"packet": ["after"]})
    with caplog.at_level(logging.ERROR, logger="cluster.bus"):
        worker.master.sock.sendall(bad + encode_message(good, 2, 1))
        worker.master.pump(lambda: bool(sink.messages))
    assert sink.messages == [good]
    assert worker.bus.peers == {2}
    assert worker.eof == 0
    assert "frame" in caplog.text


# -- an adapter on the bus ------------------------------------------------------------------------


class AdapterOnBus:
    """A ``ClusterAdapter`` of a namespace without sockets, on the worker's bus."""

    def __init__(self, worker: Worker) -> None:
        self.nsp = SimpleNamespace(
            name="/",
            sockets={},
            server=SimpleNamespace(reactor=worker.reactor, recovery=None, parser=JSON_PARSER),
        )
        self.adapter = ClusterAdapter(cast(Namespace, self.nsp), worker.bus)
        self.results: list[tuple[list[Any], BaseException | None]] = []

    def fetch(self, worker: Worker) -> str:
        self.adapter.fetch_sockets(BroadcastOptions(), lambda s, e: self.results.append((s, e)))
        frame = worker.master.next_frame()
        request = decode_message(frame)
        assert (frame.target, request.uid, request.type) == (ALL, "1", MessageType.FETCH_SOCKETS)
        return str(request.data["requestId"])


def answer(worker: Worker, source: str, rid: str, sockets: list[dict[str, Any]]) -> None:
    data = {"requestId": rid, "sockets": sockets}
    worker.master.relay(ClusterMessage(source, "/", MessageType.FETCH_SOCKETS_RESPONSE, data), 1)


def test_bus_adapter_fetch_sockets_gathers_every_peer(worker: Worker) -> None:
    on_bus = AdapterOnBus(worker)
    worker.hello(2, 3)
    rid = on_bus.fetch(worker)
    answer(worker, "2", rid, [{"id": "a", "rooms": ["a"]}])
    answer(worker, "2", rid, [{"id": "duplicate"}])
    answer(worker, "3", "stray-" + rid, [{"id": "stray"}])
    answer(worker, "3", rid, [{"id": "b"}, {"id": "c", "data": {"blob": b"\x00"}}])
    worker.master.pump(lambda: bool(on_bus.results))
    ((sockets, error),) = on_bus.results
    assert error is None
    assert all(isinstance(s, RemoteSocket) for s in sockets)
    assert [s.id for s in sockets] == ["a", "b", "c"]
    assert sockets[2].data == {"blob": b"\x00"}


def test_bus_worker_down_ends_an_adapter_request(worker: Worker) -> None:
    on_bus = AdapterOnBus(worker)
    worker.hello(2, 3)
    rid = on_bus.fetch(worker)
    answer(worker, "2", rid, [{"id": "a"}])
    worker.master.control(Control.WORKER_DOWN, {"worker": 3}, ALL)
    worker.master.pump(lambda: bool(on_bus.results))
    ((sockets, error),) = on_bus.results
    assert [s.id for s in sockets] == ["a"]
    assert isinstance(error, ClusterRequestError)
    assert "worker 3 died" in str(error)


def test_bus_master_going_away_ends_adapter_requests(worker: Worker) -> None:
    on_bus = AdapterOnBus(worker)
    worker.hello(2)
    on_bus.fetch(worker)
    worker.master.sock.close()
    worker.master.pump(lambda: bool(on_bus.results) and worker.eof == 1)
    ((sockets, error),) = on_bus.results
    assert sockets == []
    assert "worker 2 is unreachable: the master went away" in str(error)


# -- the master's relay ---------------------------------------------------------------------------


class RecordingLink:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def abort(self, exc: BaseException | None = None) -> None:
        self.aborted = True


@pytest.fixture
def master() -> Iterator[tuple[Supervisor, list[RecordingLink]]]:
    def no_app(*_args: Any) -> Any:
        raise AssertionError("no worker runs here")

    supervisor = Supervisor(ClusterConfig(workers=3), no_app)
    links = [RecordingLink() for _ in supervisor.slots]
    for slot, link in zip(supervisor.slots, links, strict=True):
        slot.link = cast(Stream, link)
    yield supervisor, links
    supervisor.reactor.close()


def test_relay_to_all_but_the_sender_as_is(master: tuple[Supervisor, list[RecordingLink]]) -> None:
    supervisor, links = master
    # The master never decodes payloads: not even a valid one is needed.
    raw = encode_frame(MessageType.BROADCAST, 2, ALL, b"\xff not even a payload \x00", ADMIN)
    hub = _HubLink(supervisor, supervisor.slots[1])
    hub.data_received(raw[:5])
    hub.data_received(raw[5:13])  # cut inside the namespace
    hub.data_received(raw[13:])
    assert [link.written for link in links] == [[raw], [], [raw]]


def test_relay_to_one_target(master: tuple[Supervisor, list[RecordingLink]]) -> None:
    supervisor, links = master
    message = ClusterMessage("3", "/", MessageType.FETCH_SOCKETS_RESPONSE, {"requestId": "r"})
    raw = encode_message(message, 3, 1)
    _HubLink(supervisor, supervisor.slots[2]).data_received(raw + raw)
    assert [link.written for link in links] == [[raw, raw], [], []]
    # A target that does not exist: dropped.
    _HubLink(supervisor, supervisor.slots[2]).data_received(encode_message(message, 3, 9))
    assert [len(link.written) for link in links] == [2, 0, 0]


def test_relay_skips_dead_workers(master: tuple[Supervisor, list[RecordingLink]]) -> None:
    supervisor, links = master
    supervisor.slots[2].link = None  # worker 3 is restarting
    raw = encode_frame(MessageType.BROADCAST, 1, ALL, b"x", "/")
    _HubLink(supervisor, supervisor.slots[0]).data_received(raw)
    assert [link.written for link in links] == [[], [raw], []]
    answer_to_3 = encode_frame(MessageType.BROADCAST_ACK, 1, 3, b"x", "/")
    _HubLink(supervisor, supervisor.slots[0]).data_received(answer_to_3)
    assert [link.written for link in links] == [[], [raw], []]


def test_relay_a_worker_cannot_speak_for_another(
    master: tuple[Supervisor, list[RecordingLink]], caplog: pytest.LogCaptureFixture
) -> None:
    supervisor, links = master
    forged = encode_frame(MessageType.BROADCAST, 3, ALL, b"x", "/")  # from worker 1, says 3
    _HubLink(supervisor, supervisor.slots[0]).data_received(forged)
    assert all(link.written == [] for link in links)
    assert "sent a frame as worker 3" in caplog.text


def test_relay_broken_bus_from_a_worker_drops_its_link(
    master: tuple[Supervisor, list[RecordingLink]],
) -> None:
    supervisor, links = master
    _HubLink(supervisor, supervisor.slots[0]).data_received(
        b"\xff\xff\xff\xff\x03\x00\x01\xff\xff\x00\x00"
    )
    assert links[0].aborted
    assert all(link.written == [] for link in links)


def test_relay_control_frames_tell_the_other_workers(
    master: tuple[Supervisor, list[RecordingLink]],
) -> None:
    supervisor, links = master
    supervisor._tell_others(supervisor.slots[1], Control.WORKER_DOWN)
    expected = encode_frame(Control.WORKER_DOWN, MASTER, ALL, encode_json({"worker": 2}))
    assert [link.written for link in links] == [[expected], [], [expected]]
    ((frame, _raw),) = FrameDecoder().feed(expected)
    assert (frame.kind, frame.source, frame.nsp) == (Control.WORKER_DOWN, MASTER, "")


# -- metrics scrapes over the bus (cluster/metrics.py) -----------------------------------------


class Gathered:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[int, Any], dict[str, Any] | None]] = []

    def __call__(self, reports: dict[int, Any], figures: dict[str, Any] | None) -> None:
        self.calls.append((reports, figures))


def test_gather_asks_everyone_once_and_completes_when_all_answered(worker: Worker) -> None:
    worker.hello(2, 3)
    done = Gathered()
    worker.bus.gather_metrics(5.0, done)
    query = worker.master.next_frame()
    assert (query.kind, query.source, query.target) == (Metrics.QUERY, 1, ALL)
    rid = decode_json(query.payload)["requestId"]
    reply = {"requestId": rid, "master": {"workers": 3, "restarts": {"1": 0, "2": 1, "3": 0}}}
    worker.master.sock.sendall(encode_frame(Metrics.REPORT, MASTER, 1, encode_json(reply)))
    for peer in (2, 3):
        body = encode_json({"requestId": rid, "snapshot": {"worker": peer}})
        worker.master.sock.sendall(encode_frame(Metrics.REPORT, peer, 1, body))
    worker.master.pump(lambda: bool(done.calls))
    ((reports, master_figures),) = done.calls
    assert reports == {2: {"worker": 2}, 3: {"worker": 3}}
    assert master_figures is not None and master_figures["restarts"]["2"] == 1


def test_gather_gives_up_on_a_silent_worker_after_the_timeout(worker: Worker) -> None:
    worker.hello(2, 3)
    done = Gathered()
    worker.bus.gather_metrics(0.2, done)
    rid = decode_json(worker.master.next_frame().payload)["requestId"]
    body = encode_json({"requestId": rid, "snapshot": {"worker": 2}})
    worker.master.sock.sendall(encode_frame(Metrics.REPORT, 2, 1, body))
    worker.master.pump(lambda: bool(done.calls))
    assert done.calls == [({2: {"worker": 2}}, None)]  # no worker 3, no master: visible
    # A late answer is dropped.
    late = encode_json({"requestId": rid, "snapshot": {"worker": 3}})
    worker.master.sock.sendall(encode_frame(Metrics.REPORT, 3, 1, late))
    worker.master.pump(lambda: True)
    assert len(done.calls) == 1


def test_a_worker_answers_a_peers_query_with_its_snapshot(worker: Worker) -> None:
    worker.hello(2)
    worker.bus.metrics_provider = lambda: {"worker": 1, "figures": [1, 2]}
    query = encode_frame(Metrics.QUERY, 2, ALL, encode_json({"requestId": 7}))
    worker.master.sock.sendall(query)
    answer = worker.master.next_frame()
    assert (answer.kind, answer.source, answer.target) == (Metrics.REPORT, 1, 2)
    assert decode_json(answer.payload) == {
        "requestId": 7,
        "snapshot": {"worker": 1, "figures": [1, 2]},
    }


def test_the_master_answers_a_query_and_relays_it(
    master: tuple[Supervisor, list[RecordingLink]],
) -> None:
    supervisor, links = master
    supervisor.slots[0].pid, supervisor.slots[1].pid, supervisor.slots[2].pid = 101, 102, None
    supervisor.slots[2].restarts = 4
    query = encode_frame(Metrics.QUERY, 1, ALL, encode_json({"requestId": 3}))
    _HubLink(supervisor, supervisor.slots[0]).data_received(query)
    assert links[1].written == [query] and links[2].written == [query]
    ((frame, _raw),) = FrameDecoder().feed(links[0].written[0])
    assert (frame.kind, frame.source, frame.target) == (Metrics.REPORT, MASTER, 1)
    assert decode_json(frame.payload) == {
        "requestId": 3,
        "master": {
            "workers": 3,
            "live": [1, 2],
            "restarts": {"1": 0, "2": 0, "3": 4},
            "pids": {"1": 101, "2": 102},
        },
    }
