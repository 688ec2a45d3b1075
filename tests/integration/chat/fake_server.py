"""A tiny misbehaving server on raw sockets: each accepted connection runs a scenario function
in its own thread, with just enough HTTP and websocket (wsproto) to say wrong things."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

#: Seconds a scenario waits for the client before giving up (never longer than a test's wait).
PATIENCE = 5.0


def open_packet(
    sid: str = "fakesid",
    ping_interval: int = 25_000,
    ping_timeout: int = 20_000,
    upgrades: tuple[str, ...] = (),
) -> str:
    """An Engine.IO OPEN packet."""
    return "0" + json.dumps(
        {
            "sid": sid,
            "upgrades": list(upgrades),
            "pingInterval": ping_interval,
            "pingTimeout": ping_timeout,
            "maxPayload": 1_000_000,
        }
    )


def http_response(status: int, body: str | bytes, content_type: str = "text/plain") -> bytes:
    data = body.encode() if isinstance(body, str) else body
    head = (
        f"HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


@dataclass
class HttpRequestHead:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    raw: bytes

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.target).query).items()}

    @property
    def is_websocket(self) -> bool:
        return self.headers.get("upgrade", "").lower() == "websocket"


class FakeConnection:
    """One accepted connection, used by a scenario function (blocking, with timeouts)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(PATIENCE)
        self._buffer = b""
        self._ws: WSConnection | None = None
        self.closed = threading.Event()
        #: Conditions to notify when the connection closes (a parked poll waits on one).
        self.watchers: list[threading.Condition] = []

    def read_request(self) -> HttpRequestHead | None:
        """The next request on this connection; None once the client closed it."""
        while b"\r\n\r\n" not in self._buffer:
            chunk = self._recv()
            if not chunk:
                return None
            self._buffer += chunk
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            chunk = self._recv()
            if not chunk:
                return None
            self._buffer += chunk
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return HttpRequestHead(method, target, headers, body, head + b"\r\n\r\n" + body)

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except (TimeoutError, OSError):
            return b""

    def send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(data)

    def hold(self) -> None:
        """Say nothing until the client or the test closes the connection."""
        while self._recv():
            pass

    def close(self) -> None:
        self.closed.set()
        for watcher in self.watchers:
            with watcher:
                watcher.notify_all()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    # -- websocket ------------------------------------------------------------------------------

    def accept_websocket(self, request: HttpRequestHead) -> None:
        ws = self._ws = WSConnection(ConnectionType.SERVER)
        ws.receive_data(request.raw)
        for event in ws.events():
            if isinstance(event, Request):
                self.send(ws.send(AcceptConnection()))

    def ws_send(self, text: str) -> None:
        assert self._ws is not None
        self.send(self._ws.send(TextMessage(data=text)))

    def ws_receive(self) -> str | None:
        """The next text message; None once the client closed or went quiet too long."""
        ws = self._ws
        assert ws is not None
        while True:
            for event in ws.events():
                if isinstance(event, TextMessage):
                    return str(event.data)
                if isinstance(event, CloseConnection):
                    return None
            chunk = self._recv()
            if not chunk:
                return None
            ws.receive_data(chunk)


Scenario = Callable[[FakeConnection], None]


class FakeServer:
    """Listens on 127.0.0.1:0; every connection runs ``scenario`` in a thread."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections: list[FakeConnection] = []
        self.threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            conn = FakeConnection(sock)
            self.connections.append(conn)
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _run(self, conn: FakeConnection) -> None:
        try:
            self.scenario(conn)
        finally:
            conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._accepting.join(PATIENCE)
        for conn in list(self.connections):
            conn.close()
        for thread in list(self.threads):
            thread.join(PATIENCE)
        assert not any(t.is_alive() for t in self.threads), "a fake server thread hangs"


class FakeEngine:
    """A scenario: just enough Engine.IO (polling or websocket) and Socket.IO to connect the
    main namespace (answering ``connect_reply``), then the Engine.IO packets ``after_connect``
    (text), then silence: no ping ever."""

    def __init__(
        self,
        after_connect: tuple[str, ...] = (),
        ping_interval: int = 25_000,
        ping_timeout: int = 20_000,
        connect_reply: str = '40{"sid":"fake-socket"}',
        upgrades: tuple[str, ...] = (),
        probe: str = "refuse",
    ) -> None:
        self.after_connect = after_connect
        self.connect_reply = connect_reply
        self.open = open_packet(
            ping_interval=ping_interval, ping_timeout=ping_timeout, upgrades=upgrades
        )
        #: What an upgrade probe (a websocket with a sid) gets: "refuse" (HTTP 400),
        #: "bad-answer" (not 3probe), or "close" (the websocket closes at once).
        self.probe = probe
        self.probed = threading.Event()
        self._outbox: list[str] = []
        self._ready = threading.Condition()

    def push(self, packet: str) -> None:
        """Send ``packet`` with the next poll."""
        self._queue([packet])

    def __call__(self, conn: FakeConnection) -> None:
        while (request := conn.read_request()) is not None:
            if request.is_websocket and "sid" in request.query:
                self._refuse_upgrade(conn, request)
                return
            if request.is_websocket:
                self._websocket(conn, request)
                return
            if "sid" not in request.query:
                conn.send(http_response(200, self.open))
            elif request.method == "POST":
                if any(p.startswith("40") for p in request.body.decode().split("\x1e")):
                    self._queue([self.connect_reply, *self.after_connect])
                conn.send(http_response(200, "ok"))
            else:
                packet = self._next(conn)
                if packet is None:
                    return
                conn.send(http_response(200, packet))

    def _queue(self, packets: list[str]) -> None:
        with self._ready:
            self._outbox.extend(packets)
            self._ready.notify_all()

    def _next(self, conn: FakeConnection) -> str | None:
        """The next packet for a poll: a parked GET waits (until the connection closes)."""
        with self._ready:
            if self._ready not in conn.watchers:
                conn.watchers.append(self._ready)
            self._ready.wait_for(lambda: self._outbox or conn.closed.is_set())
            return self._outbox.pop(0) if self._outbox else None

    def _refuse_upgrade(self, conn: FakeConnection, request: HttpRequestHead) -> None:
        if self.probe == "refuse":
            conn.send(http_response(400, '{"code":3,"message":"Bad request"}'))
        else:
            conn.accept_websocket(request)
            if self.probe == "bad-answer" and conn.ws_receive() == "2probe":
                conn.ws_send("3nope")
                conn.ws_receive()
        self.probed.set()

    def _websocket(self, conn: FakeConnection, request: HttpRequestHead) -> None:
        conn.accept_websocket(request)
        conn.ws_send(self.open)
        while (message := conn.ws_receive()) is not None:
            if message.startswith("40"):
                conn.ws_send(self.connect_reply)
                for packet in self.after_connect:
                    conn.ws_send(packet)
