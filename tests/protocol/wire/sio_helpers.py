"""Socket.IO over the raw wire clients: one Engine.IO session per ``Engine``, on either transport.

An ``Engine`` sends and receives whole Engine.IO packets as the protocol writes them
(``'42["message",1]'``, binary as ``bytes``) and hides only the transport: over polling, sends are
POSTs (several packets joined with the record separator, binary as ``b<base64>``) and receives
are long-polling GETs, one kept outstanding across receives; over websocket, one packet a frame.
Pings are answered and skipped (and so are noops), so that a test sees only what it cares about.
Every receive has a timeout; nothing sleeps.
"""

from __future__ import annotations

import base64
import json
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from .clients import DEFAULT_TIMEOUT, ConnectionClosedError, HttpClient, WsClient, WsClosed
from .helpers import SEP, Server, parse_open, polling_url, websocket_url

TRANSPORTS = ("polling", "websocket")

Message = str | bytes


class EngineClosedError(Exception):
    """The Engine.IO session ended (close packet, unknown sid, closed socket)."""

    def __init__(self, how: str, messages: list[Message] | None = None) -> None:
        super().__init__(f"engine.io session closed: {how}")
        self.how = how
        #: What arrived before the end (filled in by ``wait_closed``).
        self.messages: list[Message] = messages or []


def _deadline(timeout: float) -> float:
    return time.monotonic() + timeout


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out waiting for an Engine.IO packet")
    return left


class Engine:
    """One Engine.IO session as a Socket.IO client uses it."""

    transport: str
    sid: str
    handshake: dict[str, Any]

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, *packets: Message) -> None:
        """Send packets (over polling, all in one POST, which must be answered ``ok``)."""
        raise NotImplementedError

    def send_unchecked(self, *packets: Message) -> None:
        """Send packets the server may refuse (a POST's answer is not looked at)."""
        raise NotImplementedError

    def recv(self, timeout: float = DEFAULT_TIMEOUT) -> Message:
        """The next packet that is not a ping or a noop.

        Raises:
            EngineClosedError: the session ended first.
            TimeoutError: nothing came in time.
        """
        raise NotImplementedError

    def close(self) -> None:
        """End the session as a client does (websocket close; polling: a ``1`` packet)."""
        raise NotImplementedError

    def drop(self) -> None:
        """Drop the connections without a word."""
        raise NotImplementedError

    def expect(self, *expected: Message, timeout: float = DEFAULT_TIMEOUT) -> None:
        """The next packets are exactly ``expected``, in order."""
        for want in expected:
            got = self.recv(timeout)
            assert got == want, f"expected {want!r}, got {got!r}"

    def expect_silence(self, timeout: float) -> None:
        """Nothing but pings for ``timeout`` seconds."""
        try:
            got = self.recv(timeout)
        except TimeoutError:
            return
        raise AssertionError(f"expected nothing, got {got!r}")

    def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> list[Message]:
        """Wait for the end of the session; returns the packets that came before it."""
        deadline = _deadline(timeout)
        messages: list[Message] = []
        while True:
            try:
                messages.append(self.recv(_left(deadline)))
            except EngineClosedError:
                return messages


class WsEngine(Engine):
    transport = "websocket"

    def __init__(self, ws: WsClient, sid: str, handshake: dict[str, Any]) -> None:
        self.ws = ws
        self.sid = sid
        self.handshake = handshake
        self._closed: EngineClosedError | None = None
        #: The close frame's code once the websocket ended (None: no close frame came).
        self.close_code: int | None = None

    @classmethod
    def open(cls, server: Server) -> WsEngine:
        ws = server.websocket(websocket_url(server))
        handshake = parse_open(ws.recv_text())
        return cls(ws, handshake["sid"], handshake)

    def send(self, *packets: Message) -> None:
        for packet in packets:
            if isinstance(packet, bytes):
                self.ws.send_binary(packet)
            else:
                self.ws.send_text(packet)

    send_unchecked = send

    def recv(self, timeout: float = DEFAULT_TIMEOUT) -> Message:
        if self._closed is not None:
            raise self._closed
        deadline = _deadline(timeout)
        while True:
            try:
                message = self.ws.recv(_left(deadline))
            except WsClosed as closed:
                self.close_code = closed.code
                self._closed = EngineClosedError(f"websocket closed ({closed.code})")
                raise self._closed from None
            if message == "2":
                self.ws.send_text("3")
            elif message != "6":
                return message

    def close(self) -> None:
        self.ws.close()

    def drop(self) -> None:
        with suppress(OSError):
            self.ws.sock.close()


class PollingEngine(Engine):
    transport = "polling"

    def __init__(self, server: Server, sid: str, handshake: dict[str, Any]) -> None:
        self.server = server
        self.sid = sid
        self.handshake = handshake
        self.url = polling_url(server, sid)
        self._getter = server.http()
        self._get_pending = False
        self._poster: HttpClient | None = None
        self._queue: deque[Message] = deque()
        self._closed: EngineClosedError | None = None
        #: The body of every GET answered 200, as it came.
        self.bodies: list[str] = []

    @classmethod
    def open(cls, server: Server) -> PollingEngine:
        response = server.request("GET", polling_url(server))
        assert response.status == 200, response
        handshake = parse_open(response.text)
        return cls(server, handshake["sid"], handshake)

    # -- sending --------------------------------------------------------------------------------

    @staticmethod
    def _encode(packets: Iterable[Message]) -> bytes:
        parts = [
            "b" + base64.b64encode(p).decode("ascii") if isinstance(p, bytes) else p
            for p in packets
        ]
        return SEP.join(parts).encode("utf-8")

    def post(self, body: bytes) -> int:
        """POST ``body``; returns the status (0 when the server closed the connection)."""
        for _ in range(2):
            if self._poster is None:
                self._poster = self.server.http()
            try:
                response = self._poster.request(
                    "POST", self.url, [("Content-Type", "text/plain;charset=UTF-8")], body
                )
            except ConnectionClosedError:
                self._poster.close()
                self._poster = None
                continue  # a keep-alive connection the server closed meanwhile: once more
            if response.header("connection") == "close":
                self._poster.close()
                self._poster = None
            return response.status
        return 0

    def send(self, *packets: Message) -> None:
        status = self.post(self._encode(packets))
        assert status == 200, f"POST {packets!r} answered {status}"

    def send_unchecked(self, *packets: Message) -> None:
        self.post(self._encode(packets))

    # -- receiving ------------------------------------------------------------------------------

    def _fill(self, deadline: float) -> None:
        if not self._get_pending:
            self._getter.send_request("GET", self.url)
            self._get_pending = True
        try:
            response = self._getter.get_response(_left(deadline))
        except ConnectionClosedError:
            self._get_pending = False
            self._closed = EngineClosedError("the GET's connection closed")
            return
        self._get_pending = False
        if response.header("connection") == "close":
            self._getter.close()
            self._getter = self.server.http()
        if response.status != 200:
            self._closed = EngineClosedError(f"GET answered {response.status} {response.text}")
            return
        self.bodies.append(response.text)
        for part in response.text.split(SEP):
            if part == "1":
                self._closed = EngineClosedError("close packet")
                return
            if part == "2":
                self.post(b"3")
            elif part.startswith("b"):
                self._queue.append(base64.b64decode(part[1:]))
            elif part != "6":
                self._queue.append(part)

    def recv(self, timeout: float = DEFAULT_TIMEOUT) -> Message:
        deadline = _deadline(timeout)
        while not self._queue:
            if self._closed is not None:
                raise self._closed
            self._fill(deadline)
        return self._queue.popleft()

    def upgrade(self) -> WsEngine:
        """Upgrade this session to websocket (probe, ``5``); packets not yet read carry over."""
        ws = self.server.websocket(websocket_url(self.server, self.sid))
        ws.send_text("2probe")
        assert ws.recv_text() == "3probe"
        if self._get_pending:
            # The outstanding GET is released (with a noop) once the probe is answered.
            self._fill(_deadline(DEFAULT_TIMEOUT))
        ws.send_text("5")
        upgraded = WsEngine(ws, self.sid, self.handshake)
        self._getter.close()
        if self._poster is not None:
            self._poster.close()
        leftover = list(self._queue)
        self._queue.clear()
        if leftover:
            upgraded.ws._pending[:0] = leftover  # read before newer frames
        return upgraded

    def close(self) -> None:
        if self._closed is None:
            with suppress(OSError, ConnectionClosedError, TimeoutError):
                self.post(b"1")
            self._closed = EngineClosedError("closed by the client")
        self.drop()

    def drop(self) -> None:
        self._getter.close()
        if self._poster is not None:
            self._poster.close()


def open_engine(server: Server, transport: str) -> Engine:
    if transport == "websocket":
        return WsEngine.open(server)
    assert transport == "polling", transport
    return PollingEngine.open(server)


# -- Socket.IO packets ----------------------------------------------------------------------------


def dumps(value: Any) -> str:
    """JSON as ``JSON.stringify`` writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def prefix(nsp: str) -> str:
    """The namespace part of a packet: nothing for ``/``, ``/name,`` otherwise."""
    return "" if nsp == "/" else nsp + ","


def event(name: str, *args: Any, nsp: str = "/", ack: int | None = None) -> str:
    """An EVENT as an Engine.IO message: ``42[/nsp,][ack]["name",...]``."""
    return "42" + prefix(nsp) + ("" if ack is None else str(ack)) + dumps([name, *args])


def placeholder(num: int) -> dict[str, Any]:
    return {"_placeholder": True, "num": num}


def parse_packet(message: Message) -> tuple[str, str, int | None, Any]:
    """An Engine.IO message carrying a Socket.IO packet -> (type+attachments, nsp, ack, data).

    ``'451-/custom,7["x",...]'`` gives ``("51-", "/custom", 7, ["x", ...])``; a packet without
    payload gives None as data.
    """
    assert isinstance(message, str) and message.startswith("4"), message
    text = message[1:]
    i = 1
    if text[0] in "56":
        i = text.index("-") + 1
    kind = text[:i]
    nsp = "/"
    if text[i : i + 1] == "/":
        comma = text.find(",", i)
        end = len(text) if comma < 0 else comma
        nsp = text[i:end]
        i = end + 1 if comma >= 0 else end
    start = i
    while i < len(text) and text[i].isdigit():
        i += 1
    ack = int(text[start:i]) if i > start else None
    data = json.loads(text[i:]) if i < len(text) else None
    return kind, nsp, ack, data


def connect(engine: Engine, nsp: str = "/", auth: dict[str, Any] | None = None) -> str:
    """Join ``nsp``; checks the CONNECT reply (first, only ``sid``) and the app's ``auth`` event.

    Returns the socket id.
    """
    engine.send("40" + prefix(nsp) + ("" if auth is None else dumps(auth)))
    return finish_connect(engine, nsp, auth)


def finish_connect(engine: Engine, nsp: str = "/", auth: dict[str, Any] | None = None) -> str:
    reply = engine.recv()
    want = "40" + prefix(nsp)
    assert isinstance(reply, str) and reply.startswith(want + "{"), reply
    payload = json.loads(reply[len(want) :])
    assert set(payload) == {"sid"}, reply
    sid = payload["sid"]
    assert isinstance(sid, str) and sid, reply
    engine.expect("42" + prefix(nsp) + dumps(["auth", auth or {}]))
    return sid


def echo_check(engine: Engine, nsp: str = "/", text: str = "still there") -> None:
    """The connection still works: ``message`` comes back as ``message-back``."""
    engine.send(event("message", text, nsp=nsp))
    engine.expect(event("message-back", text, nsp=nsp))


@contextmanager
def sio_client(
    server: Server, transport: str, nsp: str = "/", auth: dict[str, Any] | None = None
) -> Iterator[tuple[Engine, str]]:
    """A session joined to ``nsp``: ``(engine, socket id)``; closed at the end."""
    engine = open_engine(server, transport)
    with engine:
        yield engine, connect(engine, nsp, auth)


class Observer:
    """A websocket client of ``/observer``: the app reports every disconnect of ``/`` and
    ``/custom`` there as ``observed-disconnect`` (namespace, reason, socket id)."""

    def __init__(self, server: Server) -> None:
        self.engine = WsEngine.open(server)
        self.engine.send("40/observer,")
        reply = self.engine.recv()
        assert isinstance(reply, str) and reply.startswith('40/observer,{"sid":'), reply

    def __enter__(self) -> Observer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.close()

    def reason(self, sid: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[str, str]:
        """(namespace, reason) of socket ``sid``'s disconnect (others' reports are skipped)."""
        deadline = _deadline(timeout)
        while True:
            message = self.engine.recv(_left(deadline))
            _, nsp, _, data = parse_packet(message)
            assert nsp == "/observer", message
            name, namespace, reason, socket_id = data
            assert name == "observed-disconnect", message
            if socket_id == sid:
                return namespace, reason

    def expect_none(self, sid: str, timeout: float) -> None:
        """No disconnect of ``sid`` is reported within ``timeout`` seconds."""
        try:
            got = self.reason(sid, timeout)
        except TimeoutError:
            return
        raise AssertionError(f"socket {sid} unexpectedly disconnected: {got}")
