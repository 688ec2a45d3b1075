"""Raw test clients on blocking sockets: HTTP/1.1 on h11 and WebSocket on wsproto.

They speak exact wire strings and know nothing of Engine.IO: a test says which bytes go out and
looks at which bytes come back. Every receive takes a timeout (``TimeoutError`` when it passes);
nothing here sleeps.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h11
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate

__all__ = [
    "DEFAULT_TIMEOUT",
    "ConnectionClosedError",
    "HttpClient",
    "HttpResponse",
    "WsClient",
    "WsClosed",
    "WsRefused",
    "http_request",
]

Address = tuple[str, int]
Headers = Sequence[tuple[str, str]]

#: Seconds any single receive waits before it gives up.
DEFAULT_TIMEOUT = 5.0
RECV_SIZE = 65536


class ConnectionClosedError(Exception):
    """The server closed (or reset) the connection before a complete response arrived."""


@dataclass
class HttpResponse:
    """A complete HTTP response. Header names are lower-case, values latin-1 text."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    http_version: str = "1.1"

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name``, comma-separated lists split."""
        name = name.lower()
        values: list[str] = []
        for key, value in self.headers:
            if key == name:
                values.extend(part.strip() for part in value.split(","))
        return values

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return f"<HttpResponse {self.status} {self.headers} {body!r}>"


def _deadline(timeout: float) -> float:
    return time.monotonic() + timeout


def _remaining(deadline: float, what: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"timed out waiting for {what}")
    return left


class HttpClient:
    """One HTTP/1.1 client connection (keep-alive): requests go out one after another on it.

    ``request()`` sends and waits for the answer. For the cases where a test needs finer control,
    ``send_request()`` / ``send_data()`` / ``end_request()`` / ``get_response()`` split it up:
    a request can stay outstanding while another connection issues its own, and a body can be
    sent chunked, in parts, or not at all.
    """

    def __init__(self, address: Address, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self.sock = socket.create_connection(address, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._h11 = h11.Connection(h11.CLIENT)
        #: Set when sending failed because the server had already closed or reset.
        self.send_error: OSError | None = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def host_header(self) -> str:
        return f"{self.address[0]}:{self.address[1]}"

    # -- sending --------------------------------------------------------------------------------

    def _write(self, data: bytes | None) -> None:
        if not data or self.send_error is not None:
            return
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The server answered early and closed; its answer may still be readable.
            self.send_error = exc

    def send_request(
        self,
        method: str,
        target: str,
        headers: Headers = (),
        body: bytes | None = None,
        *,
        chunked: bool = False,
        end: bool = True,
    ) -> None:
        """Send a request head and (unless ``end=False``) its whole body.

        ``Host`` is added unless given. ``Content-Length`` is added for a ``body`` unless the
        headers carry it or ``chunked`` asks for ``Transfer-Encoding: chunked`` instead; with
        ``end=False`` the caller sends the rest with ``send_data`` and ``end_request``.
        """
        names = {name.lower() for name, _ in headers}
        hdrs = list(headers)
        if "host" not in names:
            hdrs.insert(0, ("Host", self.host_header))
        if chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
        elif body is not None and "content-length" not in names:
            hdrs.append(("Content-Length", str(len(body))))
        self._write(self._h11.send(h11.Request(method=method, target=target, headers=hdrs)))
        if body:
            self.send_data(body)
        if end:
            self.end_request()

    def send_data(self, data: bytes) -> None:
        """More body bytes (one chunk, when the request is chunked)."""
        self._write(self._h11.send(h11.Data(data=data)))

    def end_request(self) -> None:
        self._write(self._h11.send(h11.EndOfMessage()))

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the socket, bypassing HTTP framing."""
        self._write(data)

    # -- receiving ------------------------------------------------------------------------------

    def get_response(self, timeout: float | None = None) -> HttpResponse:
        """Wait (at most ``timeout`` seconds) for the next complete response."""
        deadline = _deadline(self.timeout if timeout is None else timeout)
        response: HttpResponse | None = None
        body: list[bytes] = []
        conn = self._h11
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise ConnectionClosedError(f"bad or truncated response: {exc}") from exc
            if event is h11.NEED_DATA:
                self.sock.settimeout(_remaining(deadline, "an HTTP response"))
                try:
                    data = self.sock.recv(RECV_SIZE)
                except TimeoutError:
                    raise TimeoutError("timed out waiting for an HTTP response") from None
                except ConnectionResetError as exc:
                    raise ConnectionClosedError("connection reset by the server") from exc
                conn.receive_data(data)
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                response = HttpResponse(
                    event.status_code,
                    event.reason.decode("latin-1"),
                    [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers],
                    http_version=event.http_version.decode("ascii"),
                )
            elif isinstance(event, h11.Data):
                body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                response.body = b"".join(body)
                if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                    conn.start_next_cycle()
                return response
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                raise ConnectionClosedError("the server closed the connection")

    def request(
        self,
        method: str,
        target: str,
        headers: Headers = (),
        body: bytes | None = None,
        *,
        chunked: bool = False,
        timeout: float | None = None,
    ) -> HttpResponse:
        """Send a complete request and wait for its response."""
        self.send_request(method, target, headers, body, chunked=chunked)
        return self.get_response(timeout)

    def pipeline(self, raw: bytes, count: int, timeout: float | None = None) -> list[HttpResponse]:
        """Write ``count`` hand-made requests in one go (``raw``), then read ``count`` responses.

        h11 will not pipeline, so each request is only recorded in its state machine (its bytes
        are not sent again) to let it parse the responses in turn.
        """
        assert self._h11.our_state is h11.IDLE, "pipeline() needs an idle connection"
        self._write(raw)
        responses = []
        for _ in range(count):
            self._h11.send(h11.Request(method="GET", target="/", headers=[("Host", "-")]))
            self._h11.send(h11.EndOfMessage())
            responses.append(self.get_response(timeout))
        return responses

    def get_response_raw(self, timeout: float | None = None) -> HttpResponse:
        """Read the response to a request written with ``send_raw`` (parsed with a fresh h11)."""
        assert self._h11.our_state is h11.IDLE, "get_response_raw() needs an idle connection"
        self._h11.send(h11.Request(method="GET", target="/", headers=[("Host", "-")]))
        self._h11.send(h11.EndOfMessage())
        return self.get_response(timeout)

    def expect_no_response(self, timeout: float) -> None:
        """Assert that nothing arrives for ``timeout`` seconds (a request is held open)."""
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if readable:
            peek = self.sock.recv(RECV_SIZE, socket.MSG_PEEK)
            raise AssertionError(f"expected no response yet, got {peek[:200]!r}")

    def wait_closed(self, timeout: float | None = None) -> None:
        """Wait until the server closes the connection (anything it sends first is discarded)."""
        deadline = _deadline(self.timeout if timeout is None else timeout)
        while True:
            self.sock.settimeout(_remaining(deadline, "the connection to close"))
            try:
                if not self.sock.recv(RECV_SIZE):
                    return
            except TimeoutError:
                raise TimeoutError("timed out waiting for the connection to close") from None
            except ConnectionResetError:
                return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def http_request(
    address: Address,
    method: str,
    target: str,
    headers: Headers = (),
    body: bytes | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> HttpResponse:
    """One request on a fresh connection, which is closed afterwards."""
    with HttpClient(address, timeout) as client:
        return client.request(method, target, headers, body)


# -- WebSocket ----------------------------------------------------------------------------------


class WsRefused(Exception):
    """The server answered the opening handshake with something other than 101."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        super().__init__(f"websocket refused: {status} {body[:200]!r}")
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass
class WsClosed(Exception):
    """The websocket ended: a close frame (``code``), or the TCP connection (``code`` None)."""

    code: int | None
    reason: str = ""
    #: Messages that arrived before the end (when waiting for it with ``wait_closed``).
    messages: list[str | bytes] = field(default_factory=list)

    def __str__(self) -> str:
        return f"websocket closed (code {self.code}, {self.reason!r})"


class WsClient:
    """A client websocket: frames out, frames in, every receive with a timeout."""

    def __init__(
        self,
        sock: socket.socket,
        ws: WSConnection,
        accept: AcceptConnection,
        pending: list[str | bytes | WsClosed],
        timeout: float,
    ) -> None:
        self.sock = sock
        self._ws = ws
        self.accept = accept
        self._pending = pending
        self._parts: list[Any] = []
        self.timeout = timeout
        self.closed: WsClosed | None = None

    @classmethod
    def connect(
        cls,
        address: Address,
        target: str,
        headers: Headers = (),
        *,
        deflate: bool = False,
        extensions: Iterable[Extension] = (),
        timeout: float = DEFAULT_TIMEOUT,
    ) -> WsClient:
        """Open a websocket to ``target`` (path and query).

        Raises:
            WsRefused: the server answered with another status than 101.
            ConnectionClosedError: the server closed the connection without answering.
        """
        exts = list(extensions)
        if deflate:
            exts.append(PerMessageDeflate())
        sock = socket.create_connection(address, timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ws = WSConnection(ConnectionType.CLIENT)
        request = Request(
            host=f"{address[0]}:{address[1]}",
            target=target,
            extensions=exts,
            extra_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        )
        try:
            sock.sendall(ws.send(request))
            accept, pending = cls._handshake(sock, ws, _deadline(timeout))
        except BaseException:
            sock.close()
            raise
        return cls(sock, ws, accept, pending, timeout)

    @staticmethod
    def _handshake(
        sock: socket.socket, ws: WSConnection, deadline: float
    ) -> tuple[AcceptConnection, list[str | bytes | WsClosed]]:
        reject: RejectConnection | None = None
        body: list[bytes] = []
        while True:
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    return event, []
                if isinstance(event, RejectConnection):
                    reject = event
                    if not event.has_body:
                        raise WsRefused(event.status_code, _decode_headers(event.headers), b"")
                elif isinstance(event, RejectData):
                    body.append(bytes(event.data))
                    if event.body_finished and reject is not None:
                        raise WsRefused(
                            reject.status_code, _decode_headers(reject.headers), b"".join(body)
                        )
            sock.settimeout(_remaining(deadline, "the websocket handshake"))
            try:
                data = sock.recv(RECV_SIZE)
            except TimeoutError:
                raise TimeoutError("timed out waiting for the websocket handshake") from None
            except ConnectionResetError as exc:
                raise ConnectionClosedError("reset during the websocket handshake") from exc
            if not data:
                if reject is not None:
                    raise WsRefused(
                        reject.status_code, _decode_headers(reject.headers), b"".join(body)
                    )
                raise ConnectionClosedError("closed during the websocket handshake")
            ws.receive_data(data)

    def __enter__(self) -> WsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def extensions(self) -> list[Extension]:
        """The extensions the server accepted."""
        return list(self.accept.extensions)

    @property
    def response_headers(self) -> list[tuple[str, str]]:
        return _decode_headers(self.accept.extra_headers)

    # -- sending --------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.sock.sendall(data)

    def send_text(self, text: str) -> None:
        self._write(self._ws.send(Message(data=text)))

    def send_binary(self, data: bytes) -> None:
        self._write(self._ws.send(Message(data=data)))

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the socket (hand-made frames)."""
        self._write(data)

    # -- receiving ------------------------------------------------------------------------------

    def _pump(self, deadline: float) -> None:
        """Read once from the socket and turn what arrived into pending messages."""
        self.sock.settimeout(_remaining(deadline, "a websocket message"))
        try:
            data: bytes | None = self.sock.recv(RECV_SIZE)
        except TimeoutError:
            raise TimeoutError("timed out waiting for a websocket message") from None
        except ConnectionResetError:
            data = b""
        if not data:
            data = None  # EOF for wsproto
        try:
            self._ws.receive_data(data)
        except Exception:  # wsproto refuses data after a close: the TCP end is all that is left
            data = None
        self._drain_events()
        if data is None and not any(isinstance(item, WsClosed) for item in self._pending):
            self._pending.append(WsClosed(None, "connection closed"))

    def _drain_events(self) -> None:
        """Turn what wsproto has parsed (frames that came with the 101, too) into messages."""
        for event in self._ws.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                self._parts.append(event.data)
                if event.message_finished:
                    parts, self._parts = self._parts, []
                    if isinstance(event, TextMessage):
                        self._pending.append("".join(parts))
                    else:
                        self._pending.append(b"".join(bytes(p) for p in parts))
            elif isinstance(event, Ping):
                self._write(self._ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                with contextlib.suppress(Exception):
                    self._write(self._ws.send(event.response()))
                self._pending.append(WsClosed(event.code, event.reason or ""))
                return

    def recv(self, timeout: float | None = None) -> str | bytes:
        """The next message: ``str`` for a text frame, ``bytes`` for a binary one.

        Raises:
            WsClosed: the websocket ended before a message came.
            TimeoutError: nothing came within ``timeout`` seconds.
        """
        if self.closed is not None:
            raise self.closed
        deadline = _deadline(self.timeout if timeout is None else timeout)
        if not self._pending:
            self._drain_events()
        while not self._pending:
            self._pump(deadline)
        item = self._pending.pop(0)
        if isinstance(item, WsClosed):
            self.closed = item
            self._pending.clear()
            raise item
        return item

    def recv_text(self, timeout: float | None = None) -> str:
        message = self.recv(timeout)
        assert isinstance(message, str), f"expected a text frame, got {message!r}"
        return message

    def expect_silence(self, timeout: float) -> None:
        """Assert that no message and no close arrives for ``timeout`` seconds."""
        try:
            message = self.recv(timeout)
        except TimeoutError:
            return
        raise AssertionError(f"expected nothing, got {message!r}")

    def wait_closed(self, timeout: float | None = None) -> WsClosed:
        """Wait for the end of the websocket; messages before it are kept in ``.messages``."""
        messages: list[str | bytes] = []
        deadline = _deadline(self.timeout if timeout is None else timeout)
        while True:
            try:
                messages.append(self.recv(_remaining(deadline, "the websocket to close")))
            except WsClosed as closed:
                closed.messages = messages
                return closed

    def close(self, code: int = 1000) -> None:
        """Send a close frame (if still open) and drop the connection."""
        if self.closed is None:
            with contextlib.suppress(Exception):
                self._write(self._ws.send(CloseConnection(code=code)))
            self.closed = WsClosed(code, "closed by the client")
        with contextlib.suppress(OSError):
            self.sock.close()


def _decode_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in headers]
