"""``reactor.TlsStream`` against Python's ``ssl`` on loopback: the handshake, big writes both
ways, close_notify, the handshake time limit, and peers that do not speak TLS. Each bad peer
ends in a clean close (no traceback) and the server keeps serving the next client."""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from reactor import (
    DEFAULT_MAX_BUFFER,
    Listener,
    Reactor,
    SlowConsumerError,
    TlsError,
    TlsHandshakeTimeout,
    TlsStream,
    open_listening_socket,
)

from .tls_support import TlsFiles

WAIT = 10.0
BIG = 3 * 1024 * 1024  # within the 4 MiB slow-reader cap, much larger than a socket buffer


class Echo:
    """Echoes what it gets; ``size:N`` asks for N bytes back; remembers how it ended."""

    def __init__(self, server: TlsServer) -> None:
        self.server = server
        self.stream: TlsStream | None = None

    def data_received(self, data: bytes) -> None:
        assert self.stream is not None
        if data.startswith(b"size:"):
            self.stream.write(b"x" * int(data[5:]))
        elif data == b"close":
            self.stream.close()
        else:
            self.stream.write(data)

    def eof_received(self) -> None:
        self.server.ended.put(("eof", None))

    def connection_lost(self, exc: BaseException | None) -> None:
        self.server.ended.put(("lost", exc))


class Counter(Echo):
    """Counts bytes, answers the running total once it reaches the announced size."""

    def __init__(self, server: TlsServer) -> None:
        super().__init__(server)
        self.expected = 0
        self.count = 0

    def data_received(self, data: bytes) -> None:
        assert self.stream is not None
        if not self.expected:
            head, _, data = data.partition(b"\n")
            self.expected = int(head)
        self.count += len(data)
        if self.count >= self.expected:
            self.stream.write(b"got %d\n" % self.count)


class TlsServer:
    def __init__(self, context: ssl.SSLContext, handshake_timeout: float = WAIT) -> None:
        self.reactor = Reactor()
        #: Options of the next accepted stream's socket and buffer (the slow-reader test).
        self.send_buffer = 0
        self.max_buffer = DEFAULT_MAX_BUFFER
        self.context = context
        self.handshake_timeout = handshake_timeout
        self.ended: queue.Queue[tuple[str, BaseException | None]] = queue.Queue()
        self.protocol = Echo
        self.greeting = b""
        self.listener = Listener(
            self.reactor, open_listening_socket("127.0.0.1", 0), self._on_accept
        )
        self.address = self.listener.address
        self.thread = threading.Thread(target=self.reactor.run, daemon=True)
        self.thread.start()

    def _on_accept(self, sock: socket.socket, peer: tuple[str, int] | None) -> None:
        protocol = self.protocol(self)
        if self.send_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        stream = TlsStream(
            self.reactor,
            sock,
            protocol,
            self.context,
            handshake_timeout=self.handshake_timeout,
            max_buffer=self.max_buffer,
            peer=peer,
        )
        protocol.stream = stream
        stream.start()
        if self.greeting:
            stream.write(self.greeting)  # before the handshake: held until it completes

    def next_end(self) -> tuple[str, BaseException | None]:
        try:
            return self.ended.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError("the server's connection did not end") from None

    def lost(self) -> BaseException | None:
        while True:
            kind, exc = self.next_end()
            if kind == "lost":
                return exc

    def stop(self) -> None:
        self.reactor.call_soon_threadsafe(self.reactor.stop)
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        self.listener.close()
        self.reactor.close()


@pytest.fixture
def server(tls_files: TlsFiles) -> Iterator[TlsServer]:
    srv = TlsServer(tls_files.server_context(), handshake_timeout=1.0)
    yield srv
    srv.stop()


def connect(server: TlsServer, tls_files: TlsFiles, **options: bool) -> ssl.SSLSocket:
    raw = socket.create_connection(server.address, timeout=WAIT)
    return tls_files.client_context().wrap_socket(raw, server_hostname="localhost", **options)


def recv_exactly(sock: ssl.SSLSocket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(size - got, 1 << 20))
        assert chunk, f"EOF after {got} of {size} bytes"
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def assert_serving(server: TlsServer, tls_files: TlsFiles) -> None:
    with connect(server, tls_files) as client:
        client.sendall(b"still there?")
        assert recv_exactly(client, 12) == b"still there?"


def test_tls_stream_handshake_and_echo(server: TlsServer, tls_files: TlsFiles) -> None:
    with connect(server, tls_files) as client:
        assert client.version() in ("TLSv1.2", "TLSv1.3")
        client.sendall(b"hello")
        assert recv_exactly(client, 5) == b"hello"


def test_tls_stream_big_writes_both_ways(server: TlsServer, tls_files: TlsFiles) -> None:
    with connect(server, tls_files) as client:
        client.sendall(b"size:%d" % BIG)
        assert recv_exactly(client, BIG) == b"x" * BIG
    server.protocol = Counter
    with connect(server, tls_files) as client:
        client.sendall(b"%d\n" % BIG + b"y" * BIG)
        assert recv_exactly(client, len(b"got %d\n" % BIG)) == b"got %d\n" % BIG


def test_tls_stream_holds_writes_until_the_handshake(
    server: TlsServer, tls_files: TlsFiles
) -> None:
    server.greeting = b"welcome\n"
    with connect(server, tls_files) as client:
        assert recv_exactly(client, 8) == b"welcome\n"


def test_tls_stream_slow_reader_hits_the_cap(server: TlsServer, tls_files: TlsFiles) -> None:
    """The cap counts encrypted bytes the kernel has not taken: a reader that stops reading is
    dropped (here: 64 KiB cap, small socket buffers, two 1 MB answers unread)."""
    server.send_buffer = 16 * 1024
    server.max_buffer = 64 * 1024
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    raw.settimeout(WAIT)
    raw.connect(server.address)
    with tls_files.client_context().wrap_socket(raw, server_hostname="localhost") as client:
        client.sendall(b"size:1000000")
        assert client.recv(1)  # the first answer is on its way; from now on nothing is read
        client.sendall(b"size:1000000")
        assert isinstance(server.lost(), SlowConsumerError)
    assert_serving(server, tls_files)


def test_tls_stream_close_sends_close_notify(server: TlsServer, tls_files: TlsFiles) -> None:
    # Without suppressing ragged EOFs, a TCP close without close_notify raises SSLEOFError.
    with connect(server, tls_files, suppress_ragged_eofs=False) as client:
        client.sendall(b"close")
        assert client.recv(100) == b""
    assert server.lost() is None


def test_tls_stream_peer_close_notify_is_eof(server: TlsServer, tls_files: TlsFiles) -> None:
    client = connect(server, tls_files)
    client.sendall(b"ping")
    assert recv_exactly(client, 4) == b"ping"
    client.unwrap().close()  # sends close_notify
    assert server.next_end() == ("eof", None)
    assert server.lost() is None


def test_tls_stream_silent_peer_hits_the_handshake_limit(
    server: TlsServer, tls_files: TlsFiles
) -> None:
    with socket.create_connection(server.address, timeout=WAIT) as raw:
        assert raw.recv(100) == b""  # closed by the server after 1 s
    assert isinstance(server.lost(), TlsHandshakeTimeout)
    assert_serving(server, tls_files)


def half_client_hello(tls_files: TlsFiles) -> bytes:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = tls_files.client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    return hello[: len(hello) // 2]


def test_tls_stream_half_a_client_hello_hits_the_limit(
    server: TlsServer, tls_files: TlsFiles
) -> None:
    with socket.create_connection(server.address, timeout=WAIT) as raw:
        raw.sendall(half_client_hello(tls_files))
        assert raw.recv(100) == b""
    assert isinstance(server.lost(), TlsHandshakeTimeout)
    assert_serving(server, tls_files)


@pytest.mark.parametrize(
    "first_bytes",
    [
        pytest.param(bytes(range(256)) * 4, id="garbage"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", id="plain-http"),
        pytest.param(b"\x15\x03\x03\x00\x02\x02\x28", id="an-alert"),
    ],
)
def test_tls_stream_not_tls_ends_cleanly(
    server: TlsServer, tls_files: TlsFiles, first_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="reactor")
    with socket.create_connection(server.address, timeout=WAIT) as raw:
        raw.sendall(first_bytes)
        while raw.recv(4096):  # maybe an alert, then EOF
            pass
    exc = server.lost()
    assert isinstance(exc, TlsError) and not isinstance(exc, TlsHandshakeTimeout)
    assert_serving(server, tls_files)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert [r for r in caplog.records if "TLS with" in r.getMessage()]


def test_tls_stream_client_refuses_an_unknown_ca(tls_files: TlsFiles) -> None:
    """Client side: the TLS stream verifies the server (here: a CA it does not trust)."""
    srv = TlsServer(tls_files.server_context(tls_files.unknown_ca))
    reactor = Reactor()
    lost: queue.Queue[BaseException | None] = queue.Queue()

    class Client:
        def data_received(self, data: bytes) -> None:
            pass

        def eof_received(self) -> None:
            pass

        def connection_lost(self, exc: BaseException | None) -> None:
            lost.put(exc)

    try:
        sock = socket.create_connection(srv.address, timeout=WAIT)
        stream = TlsStream(
            reactor, sock, Client(), tls_files.client_context(), server_hostname="localhost"
        )
        stream.start()
        stream.write(b"never sent")
        while lost.empty():
            reactor.run_once(max_wait=0.1)
        exc = lost.get_nowait()
        assert isinstance(exc, TlsError) and exc.certificate_refused
        assert str(exc) == "certificate verify failed: unable to get local issuer certificate"
    finally:
        reactor.close()
        srv.stop()
