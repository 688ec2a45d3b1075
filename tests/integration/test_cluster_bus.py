"""The cluster bus in one process: a worker's ``WorkerBus`` on one end of a socket pair, the test
playing the master on the other; and the master's relay (``Supervisor._relay``) with recording
links. Requests that expect answers from the other workers end with what they have and an error
when a worker dies, when the time is up, or when the master goes: never a hang."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from cluster.bus import ClusterRequestError, WorkerBus
from cluster.frames import (
    ALL,
    MASTER,
    Frame,
    FrameDecoder,
    Kind,
    decode_json,
    encode_frame,
    encode_json,
)
from cluster.supervisor import ClusterConfig, Supervisor, _HubLink
from reactor import Reactor, Stream

WAIT = 5.0


class Master:
    """The test's end of the bus: frames to the worker, frames from it."""

    def __init__(self, reactor: Reactor, sock: socket.socket) -> None:
        self.reactor = reactor
        self.sock = sock
        sock.setblocking(False)
        self.decoder = FrameDecoder()
        self.frames: list[Frame] = []

    def send(self, kind: int, source: int, body: dict[str, Any], target: int = 1) -> None:
        self.sock.sendall(encode_frame(kind, source, target, encode_json(body)))

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


class Worker:
    def __init__(self) -> None:
        self.reactor = Reactor()
        worker_end, master_end = socket.socketpair()
        self.eof = 0
        self.bus = WorkerBus(self.reactor, worker_end, 1, self._on_eof)
        self.master = Master(self.reactor, master_end)
        self.results: list[tuple[list[Any], BaseException | None]] = []

    def _on_eof(self) -> None:
        self.eof += 1

    def hello(self, *workers: int) -> None:
        self.master.send(Kind.HELLO, MASTER, {"workers": [1, *workers]})
        self.master.pump(lambda: self.bus.peers == set(workers))

    def spin(self, ticks: int = 5) -> None:
        """A few loop ticks (for what must *not* happen)."""
        for _ in range(ticks):
            self.reactor.run_once(max_wait=0.01)

    def done(self, responses: list[Any], error: BaseException | None) -> None:
        self.results.append((responses, error))

    def close(self) -> None:
        self.master.sock.close()
        self.bus.stream.abort()
        self.reactor.close()


@pytest.fixture
def worker() -> Iterator[Worker]:
    made = Worker()
    yield made
    made.close()


def start_request(worker: Worker, timeout: float = WAIT) -> int:
    worker.bus.request(Kind.FETCH_SOCKETS, {"nsp": "/"}, worker.done, timeout=timeout)
    frame = worker.master.next_frame()
    assert (frame.kind, frame.source, frame.target) == (Kind.FETCH_SOCKETS, 1, ALL)
    body = decode_json(frame.payload)
    assert body["nsp"] == "/"
    return int(body["request_id"])


def answer(worker: Worker, source: int, request_id: int, items: list[Any]) -> None:
    body = {"request_id": request_id, "items": items}
    worker.master.send(Kind.FETCH_SOCKETS_RESPONSE, source, body)


def test_hello_and_peers_coming_and_going(worker: Worker) -> None:
    worker.hello(2, 3)
    worker.master.send(Kind.WORKER_DOWN, MASTER, {"worker": 3}, ALL)
    worker.master.pump(lambda: worker.bus.peers == {2})
    worker.master.send(Kind.WORKER_UP, MASTER, {"worker": 4}, ALL)
    worker.master.pump(lambda: worker.bus.peers == {2, 4})


def test_request_gathers_every_peer(worker: Worker) -> None:
    worker.hello(2, 3)
    request_id = start_request(worker)
    answer(worker, 2, request_id, [{"id": "a"}])
    worker.spin()
    assert worker.results == []  # still waiting for worker 3
    answer(worker, 3, request_id, [{"id": "b"}, {"id": "c"}])
    worker.master.pump(lambda: bool(worker.results))
    assert worker.results == [([{"id": "a"}, {"id": "b"}, {"id": "c"}], None)]


def test_a_peer_dying_ends_the_request_with_an_error(worker: Worker) -> None:
    worker.hello(2, 3)
    request_id = start_request(worker)
    answer(worker, 2, request_id, [{"id": "a"}])
    worker.master.send(Kind.WORKER_DOWN, MASTER, {"worker": 3}, ALL)
    worker.master.pump(lambda: bool(worker.results))
    ((responses, error),) = worker.results
    assert responses == [{"id": "a"}]
    assert isinstance(error, ClusterRequestError)
    assert "worker 3 died" in str(error)


def test_a_silent_peer_times_the_request_out(worker: Worker) -> None:
    worker.hello(2, 3)
    request_id = start_request(worker, timeout=0.1)
    answer(worker, 3, request_id, [{"id": "b"}])
    worker.master.pump(lambda: bool(worker.results), timeout=2.0)
    ((responses, error),) = worker.results
    assert responses == [{"id": "b"}]
    assert "no answer from worker(s) 2" in str(error)


def test_the_master_going_away_ends_requests(worker: Worker) -> None:
    worker.hello(2)
    start_request(worker)
    worker.master.sock.close()
    worker.master.pump(lambda: bool(worker.results) and worker.eof == 1)
    ((responses, error),) = worker.results
    assert responses == []
    assert "the master went away" in str(error)


def test_no_peers_answers_at_once(worker: Worker) -> None:
    worker.hello()
    worker.bus.request(Kind.FETCH_SOCKETS, {"nsp": "/"}, worker.done)
    assert worker.results == [([], None)]
    worker.bus.publish(Kind.BROADCAST, b"ignored")
    worker.spin()
    with pytest.raises(BlockingIOError):
        worker.master.sock.recv(1)  # nothing was sent


def test_stray_and_duplicate_answers_are_ignored(worker: Worker) -> None:
    worker.hello(2)
    request_id = start_request(worker)
    answer(worker, 2, request_id + 100, [{"id": "stray"}])
    answer(worker, 2, request_id, [{"id": "a"}])
    answer(worker, 2, request_id, [{"id": "again"}])
    worker.master.pump(lambda: bool(worker.results))
    worker.spin()
    assert worker.results == [([{"id": "a"}], None)]


@pytest.mark.parametrize("kind", [Kind.FETCH_SOCKETS, Kind.SERVER_SIDE_EMIT])
def test_a_request_for_a_namespace_this_worker_lacks_is_answered_empty(
    worker: Worker, kind: Kind
) -> None:
    """Dynamic namespaces exist only where their clients are: say so, do not stay silent."""
    worker.hello(2)
    body = {"nsp": "/dyn-elsewhere", "rooms": [], "except": [], "request_id": 7, "args": ["e"]}
    worker.master.send(kind, 2, body, ALL)
    frame = worker.master.next_frame()
    expected = (
        Kind.FETCH_SOCKETS_RESPONSE
        if kind == Kind.FETCH_SOCKETS
        else Kind.SERVER_SIDE_EMIT_RESPONSE
    )
    assert (frame.kind, frame.source, frame.target) == (expected, 1, 2)
    assert decode_json(frame.payload) == {"items": [], "request_id": 7}


def test_a_broken_stream_from_the_master_stops_the_worker(worker: Worker) -> None:
    worker.master.sock.sendall(b"\x00\x00\x00\x01garbage")  # length 1: impossible
    worker.master.pump(lambda: worker.eof == 1)


def test_a_bad_payload_costs_only_that_frame(worker: Worker) -> None:
    worker.hello(2)
    worker.master.sock.sendall(encode_frame(Kind.FETCH_SOCKETS_RESPONSE, 2, 1, b"{not json"))
    request_id = start_request(worker)
    answer(worker, 2, request_id, [])
    worker.master.pump(lambda: bool(worker.results))
    assert worker.results == [([], None)]
    assert worker.eof == 0


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
    raw = encode_frame(Kind.BROADCAST, 2, ALL, b"\xff not even json \x00")
    hub = _HubLink(supervisor, supervisor.slots[1])
    hub.data_received(raw[:5])
    hub.data_received(raw[5:])
    assert [link.written for link in links] == [[raw], [], [raw]]


def test_relay_to_one_target(master: tuple[Supervisor, list[RecordingLink]]) -> None:
    supervisor, links = master
    raw = encode_frame(Kind.FETCH_SOCKETS_RESPONSE, 3, 1, b"{}")
    _HubLink(supervisor, supervisor.slots[2]).data_received(raw + raw)
    assert [link.written for link in links] == [[raw, raw], [], []]
    # A target that does not exist: dropped.
    _HubLink(supervisor, supervisor.slots[2]).data_received(
        encode_frame(Kind.FETCH_SOCKETS_RESPONSE, 3, 9, b"{}")
    )
    assert [len(link.written) for link in links] == [2, 0, 0]


def test_relay_skips_dead_workers(master: tuple[Supervisor, list[RecordingLink]]) -> None:
    supervisor, links = master
    supervisor.slots[2].link = None  # worker 3 is restarting
    raw = encode_frame(Kind.BROADCAST, 1, ALL, b"x")
    _HubLink(supervisor, supervisor.slots[0]).data_received(raw)
    assert [link.written for link in links] == [[], [raw], []]


def test_a_worker_cannot_speak_for_another(
    master: tuple[Supervisor, list[RecordingLink]], caplog: pytest.LogCaptureFixture
) -> None:
    supervisor, links = master
    forged = encode_frame(Kind.BROADCAST, 3, ALL, b"x")  # sent by worker 1, claims to be 3
    _HubLink(supervisor, supervisor.slots[0]).data_received(forged)
    assert all(link.written == [] for link in links)
    assert "sent a frame as worker 3" in caplog.text


def test_a_broken_bus_from_a_worker_drops_its_link(
    master: tuple[Supervisor, list[RecordingLink]],
) -> None:
    supervisor, links = master
    _HubLink(supervisor, supervisor.slots[0]).data_received(b"\xff\xff\xff\xff\x01\x00\x01\xff\xff")
    assert links[0].aborted
    assert all(link.written == [] for link in links)
