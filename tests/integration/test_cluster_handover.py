"""The master's hand-over machinery in one process, on real sockets and a reactor driven by the
test: passing accepted sockets over SCM_RIGHTS (``FdSender``/``FdReceiver``) and peeking at a
proxied request head (``_Peeker``). No fork, no threads."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from cluster import supervisor as supervisor_module
from cluster.fdpass import FdReceiver, FdSender
from cluster.supervisor import Supervisor, _Peeker
from reactor import Reactor

WAIT = 5.0

Peer = tuple[str, int] | None


@pytest.fixture
def reactor() -> Iterator[Reactor]:
    reactor = Reactor()
    yield reactor
    reactor.close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(WAIT)
    yield sock
    sock.close()


class Pairs:
    """Client/accepted socket pairs through ``listener``; all closed at the end."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.opened: list[socket.socket] = []

    def make(self) -> tuple[socket.socket, socket.socket, tuple[str, int]]:
        client = socket.create_connection(self.listener.getsockname()[:2], timeout=WAIT)
        conn, peer = self.listener.accept()
        self.opened += [client, conn]
        return client, conn, (peer[0], peer[1])

    def close(self) -> None:
        for sock in self.opened:
            sock.close()


@pytest.fixture
def pairs(listener: socket.socket) -> Iterator[Pairs]:
    made = Pairs(listener)
    yield made
    made.close()


def run_until(reactor: Reactor, condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        reactor.run_once(max_wait=0.01)


def channel_pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


class Received:
    def __init__(self) -> None:
        self.sockets: list[tuple[socket.socket, Peer]] = []
        self.eof = 0

    def on_socket(self, sock: socket.socket, peer: Peer) -> None:
        self.sockets.append((sock, peer))

    def on_eof(self) -> None:
        self.eof += 1

    def close(self) -> None:
        for sock, _peer in self.sockets:
            sock.close()


@pytest.fixture
def received() -> Iterator[Received]:
    got = Received()
    yield got
    got.close()


def closed_by_peer(client: socket.socket) -> bool:
    """The other end closed (with unread data there, the kernel resets instead of a FIN)."""
    try:
        return client.recv(1) == b""
    except ConnectionResetError:
        return True


def assert_same_connection(client: socket.socket, adopted: socket.socket) -> None:
    """What the worker's socket sends, the client reads (and back)."""
    adopted.setblocking(True)
    adopted.settimeout(WAIT)
    client.sendall(b"ping")
    assert adopted.recv(16) == b"ping"
    adopted.sendall(b"pong")
    assert client.recv(16) == b"pong"


# -- FdSender / FdReceiver ------------------------------------------------------------------------


def test_hand_over_with_and_without_peer(
    reactor: Reactor, pairs: Pairs, received: Received
) -> None:
    master_end, worker_end = channel_pair()
    sender = FdSender(reactor)
    sender.attach(master_end)
    FdReceiver(reactor, worker_end, received.on_socket, received.on_eof)
    client1, conn1, peer1 = pairs.make()
    client2, conn2, _peer2 = pairs.make()
    sender.send(conn1, peer1)
    sender.send(conn2, None)  # no peer address: the worker asks the socket itself
    run_until(reactor, lambda: len(received.sockets) == 2)
    assert conn1.fileno() == -1 and conn2.fileno() == -1  # the master kept no descriptor
    (sock1, got1), (sock2, got2) = received.sockets
    assert got1 == peer1
    assert got2 is None
    assert_same_connection(client1, sock1)
    assert_same_connection(client2, sock2)
    sender.close()


def test_client_closed_before_the_hand_over(
    reactor: Reactor, pairs: Pairs, received: Received
) -> None:
    """The socket still travels (the worker then reads EOF); nothing raises in the master."""
    master_end, worker_end = channel_pair()
    sender = FdSender(reactor)
    sender.attach(master_end)
    FdReceiver(reactor, worker_end, received.on_socket, received.on_eof)
    client, conn, peer = pairs.make()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()  # RST
    sender.send(conn, peer)
    run_until(reactor, lambda: len(received.sockets) == 1)
    adopted = received.sockets[0][0]
    adopted.settimeout(WAIT)
    with pytest.raises(ConnectionResetError):
        adopted.recv(1)
    sender.close()


def test_a_full_channel_queues_in_order(reactor: Reactor, pairs: Pairs, received: Received) -> None:
    """A worker that does not read: the kernel queue fills, the master keeps the rest and sends
    them, in order, once the worker reads again."""
    master_end, worker_end = channel_pair()
    master_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # a dozen messages
    sender = FdSender(reactor)
    sender.attach(master_end)
    made = [pairs.make() for _ in range(40)]
    for _client, conn, peer in made:
        sender.send(conn, peer)
    assert 0 < len(sender._queue) < 40  # some in the kernel's queue, the rest waiting here
    FdReceiver(reactor, worker_end, received.on_socket, received.on_eof)
    run_until(reactor, lambda: len(received.sockets) == 40)
    assert not sender._queue
    assert [peer for _sock, peer in received.sockets] == [peer for _c, _conn, peer in made]
    sender.close()


def test_queue_limit_costs_only_the_extra_connections(
    reactor: Reactor, pairs: Pairs, received: Received
) -> None:
    """No worker (restarting): up to max_queued connections wait, the others are closed."""
    sender = FdSender(reactor, max_queued=3)
    made = [pairs.make() for _ in range(5)]
    for _client, conn, peer in made:
        sender.send(conn, peer)
    assert len(sender._queue) == 3
    for client, _conn, _peer in made[3:]:
        assert client.recv(1) == b""  # closed by the master
    master_end, worker_end = channel_pair()
    sender.attach(master_end)  # the new worker
    FdReceiver(reactor, worker_end, received.on_socket, received.on_eof)
    run_until(reactor, lambda: len(received.sockets) == 3)
    for (client, _conn, _peer), (adopted, _p) in zip(made[:3], received.sockets, strict=True):
        assert_same_connection(client, adopted)
    sender.close()


def test_a_dead_worker_channel_keeps_connections_for_the_next(
    reactor: Reactor, pairs: Pairs, received: Received
) -> None:
    """The worker died (its end is closed) before the master heard of it: the connection waits
    for the next worker instead of being lost, and the dead channel is not polled in a loop."""
    master_end, worker_end = channel_pair()
    sender = FdSender(reactor)
    sender.attach(master_end)
    worker_end.close()
    client, conn, peer = pairs.make()
    sender.send(conn, peer)
    assert len(sender._queue) == 1
    assert sender.channel is None  # let go of the broken channel: no busy loop on it
    for _ in range(5):
        reactor.run_once(max_wait=0.01)
    new_master_end, new_worker_end = channel_pair()
    sender.attach(new_master_end)
    FdReceiver(reactor, new_worker_end, received.on_socket, received.on_eof)
    run_until(reactor, lambda: len(received.sockets) == 1)
    assert received.sockets[0][1] == peer
    assert_same_connection(client, received.sockets[0][0])
    sender.close()


def test_receiver_reports_the_master_gone(reactor: Reactor, received: Received) -> None:
    master_end, worker_end = channel_pair()
    FdReceiver(reactor, worker_end, received.on_socket, received.on_eof)
    master_end.close()
    run_until(reactor, lambda: received.eof == 1)
    assert worker_end.fileno() == -1


def test_drop_queued_closes_waiting_connections(reactor: Reactor, pairs: Pairs) -> None:
    sender = FdSender(reactor)
    made = [pairs.make() for _ in range(3)]
    for _client, conn, peer in made:
        sender.send(conn, peer)
    sender.drop_queued()
    for client, _conn, _peer in made:
        assert client.recv(1) == b""


# -- _Peeker (trusted proxy) ----------------------------------------------------------------------


class FakeSupervisor:
    """What ``_Peeker`` uses of the supervisor."""

    def __init__(self, reactor: Reactor) -> None:
        self.reactor = reactor
        self._peekers: set[Any] = set()
        self.routed: list[tuple[socket.socket, Peer]] = []

    def _route(self, conn: socket.socket, peer: Peer) -> None:
        self.routed.append((conn, peer))


class CountingPeeker(_Peeker):
    def __init__(self, fake: FakeSupervisor, conn: socket.socket, peer: Peer) -> None:
        self.calls = 0
        super().__init__(cast(Supervisor, fake), conn, peer)

    def on_readable(self) -> None:
        self.calls += 1
        super().on_readable()


HEAD = (
    b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
    b"X-Forwarded-For: 203.0.113.9, 10.0.0.1\r\n\r\n"
)


def test_peeker_routes_by_forwarded_address_without_consuming(
    reactor: Reactor, pairs: Pairs
) -> None:
    fake = FakeSupervisor(reactor)
    client, conn, peer = pairs.make()
    client.sendall(HEAD)
    _Peeker(cast(Supervisor, fake), conn, peer)
    run_until(reactor, lambda: bool(fake.routed))
    assert fake.routed == [(conn, ("203.0.113.9", peer[1]))]
    assert not fake._peekers
    conn.setblocking(True)
    conn.settimeout(WAIT)
    data = b""
    while len(data) < len(HEAD):
        data += conn.recv(65536)
    assert data == HEAD  # every byte is still there for the worker


def test_peeker_without_forwarding_header_uses_the_peer(reactor: Reactor, pairs: Pairs) -> None:
    fake = FakeSupervisor(reactor)
    client, conn, peer = pairs.make()
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    _Peeker(cast(Supervisor, fake), conn, peer)
    run_until(reactor, lambda: bool(fake.routed))
    assert fake.routed == [(conn, peer)]


def test_peeker_waits_for_a_partial_head_without_spinning(reactor: Reactor, pairs: Pairs) -> None:
    """The head arrives in pieces. Peeking consumes nothing, so the socket stays readable: the
    peeker must not poll it in a busy loop while it waits for the rest."""
    fake = FakeSupervisor(reactor)
    client, conn, peer = pairs.make()
    client.sendall(HEAD[:40])
    peeker = CountingPeeker(fake, conn, peer)
    window = time.monotonic() + 0.3
    while time.monotonic() < window:
        reactor.run_once(max_wait=0.05)
    assert not fake.routed
    assert peeker.calls < 30, f"{peeker.calls} peeks in 0.3 s: a busy loop"
    client.sendall(HEAD[40:])
    run_until(reactor, lambda: bool(fake.routed))
    assert fake.routed == [(conn, ("203.0.113.9", peer[1]))]


@pytest.mark.parametrize("how", ["close", "reset", "half-close"])
def test_peeker_gives_up_on_a_client_that_leaves(reactor: Reactor, pairs: Pairs, how: str) -> None:
    """Nothing sent and closed; part of a head and reset; part of a head and closed (its head
    can never end). Each costs only its connection, at once (not after PEEK_TIMEOUT)."""
    fake = FakeSupervisor(reactor)
    client, conn, peer = pairs.make()
    _Peeker(cast(Supervisor, fake), conn, peer)
    if how == "close":
        client.close()
    elif how == "reset":
        client.sendall(b"GET / HT")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" + bytes(4))
        client.close()
    else:
        client.sendall(b"GET / HT")
        client.shutdown(socket.SHUT_WR)
    run_until(reactor, lambda: not fake._peekers, timeout=2.0)
    assert conn.fileno() == -1
    assert not fake.routed


def test_peeker_gives_up_on_a_silent_client(
    reactor: Reactor, pairs: Pairs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor_module, "PEEK_TIMEOUT", 0.1)
    fake = FakeSupervisor(reactor)
    client, conn, peer = pairs.make()
    client.sendall(b"GET / HTTP/1.1\r\n")
    _Peeker(cast(Supervisor, fake), conn, peer)
    run_until(reactor, lambda: not fake._peekers)
    assert conn.fileno() == -1
    assert closed_by_peer(client)
    assert not fake.routed
