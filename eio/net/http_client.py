"""HTTP/1.1 client connections on h11 (keep-alive, one request at a time) and the websocket
client handshake. Used by the Engine.IO client's transports."""

from __future__ import annotations

import base64
import logging
import os
import socket
import ssl
from collections.abc import Callable

import h11
from wsproto.utilities import generate_accept_token

from reactor import DEFAULT_TLS_HANDSHAKE_TIMEOUT, Connector, Reactor, Stream, TlsError, TlsStream

from ..errors import EngineIOError
from .websocket import WebSocketConnection

__all__ = ["HttpClientConnection", "HttpClientError", "HttpResult"]

log = logging.getLogger(__name__)

#: Largest response head we accept.
MAX_HEAD_SIZE = 64 * 1024


class HttpClientError(EngineIOError):
    """The request failed: connection refused or lost, TLS refused, bad HTTP, or too large a
    response. ``certificate_refused``: the server's certificate failed verification."""

    def __init__(self, message: str, *, certificate_refused: bool = False) -> None:
        super().__init__(message)
        self.certificate_refused = certificate_refused


class HttpResult:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


OnResult = Callable[[HttpResult], None]
OnError = Callable[[BaseException], None]


class HttpClientConnection:
    """One keep-alive connection to a server. ``request`` may be called again once answered."""

    __slots__ = (
        "_body",
        "_body_len",
        "_connector",
        "_h11",
        "_on_error",
        "_on_result",
        "_pending",
        "_response",
        "_ws_key",
        "_ws_max",
        "_ws_on_open",
        "address",
        "closed",
        "host_header",
        "local_address",
        "max_body",
        "reactor",
        "ssl_context",
        "stream",
    )

    def __init__(
        self,
        reactor: Reactor,
        address: tuple[str, int],
        host_header: str,
        *,
        local_address: str | None = None,
        max_body: int = 16 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.reactor = reactor
        self.address = address
        #: TLS (SNI and hostname checking on the address's host) with this context; None: plain.
        self.ssl_context = ssl_context
        self.host_header = host_header
        self.local_address = local_address
        self.max_body = max_body
        self.stream: Stream | None = None
        self._connector: Connector | None = None
        self._h11: h11.Connection | None = None
        self._pending: bytes | None = None
        self._response: h11.Response | None = None
        self._body: list[bytes] = []
        self._body_len = 0
        self._on_result: OnResult | None = None
        self._on_error: OnError | None = None
        self._ws_key: bytes | None = None
        self._ws_on_open: Callable[[WebSocketConnection], None] | None = None
        self._ws_max = 0
        self.closed = False

    @property
    def busy(self) -> bool:
        return self._on_result is not None or self._ws_on_open is not None

    # -- requests -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        target: str,
        on_result: OnResult,
        on_error: OnError,
        *,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> None:
        """Send a request; exactly one of ``on_result``/``on_error`` is called."""
        if self.busy:
            raise RuntimeError("a request is already in flight on this connection")
        hdrs = [("host", self.host_header), *(headers or [])]
        if body is not None:
            hdrs.append(("content-length", str(len(body))))
        self._on_result, self._on_error = on_result, on_error
        self._send_request(method, target, hdrs, body)

    def websocket(
        self,
        target: str,
        on_open: Callable[[WebSocketConnection], None],
        on_error: OnError,
        *,
        headers: list[tuple[str, str]] | None = None,
        max_message: int = 100 * 1024 * 1024,
    ) -> None:
        """Open a websocket at ``target``; ``on_open`` gets it (not yet started)."""
        key = base64.b64encode(os.urandom(16))
        self._ws_key = key
        self._ws_on_open = on_open
        self._ws_max = max_message
        self._on_error = on_error
        hdrs = [
            ("host", self.host_header),
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-key", key.decode("ascii")),
            ("sec-websocket-version", "13"),
            *(headers or []),
        ]
        self._send_request("GET", target, hdrs, None)

    def _send_request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> None:
        if self._h11 is None or self._h11.our_state is not h11.IDLE:
            self._reset_connection()
        conn = self._h11
        assert conn is not None
        try:
            out = conn.send(
                h11.Request(
                    method=method,
                    target=target,
                    headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                )
            )
            if body:
                out = (out or b"") + (conn.send(h11.Data(data=body)) or b"")
            out = (out or b"") + (conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            self._fail(HttpClientError(str(exc)))
            return
        if self.stream is not None and not self.stream.closing:
            self.stream.write(out)
        else:
            self._pending = out
            self._connect()

    def _reset_connection(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            stream.protocol = _Discard()
            stream.close()
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
        self._response = None
        self._body = []
        self._body_len = 0

    def _connect(self) -> None:
        if self._connector is not None:
            return
        self._connector = Connector(
            self.reactor,
            self.address,
            self._connected,
            self._connect_failed,
            local_address=self.local_address,
        )

    def _connected(self, sock: socket.socket) -> None:
        self._connector = None
        stream: Stream
        if self.ssl_context is None:
            stream = Stream(self.reactor, sock, self, peer=self.address)
        else:  # what is written before the handshake completes is held until it has
            stream = TlsStream(
                self.reactor,
                sock,
                self,
                self.ssl_context,
                server_hostname=self.address[0],
                handshake_timeout=DEFAULT_TLS_HANDSHAKE_TIMEOUT,
                peer=self.address,
            )
        self.stream = stream
        stream.start()
        pending, self._pending = self._pending, None
        if pending:
            stream.write(pending)

    def _connect_failed(self, exc: BaseException) -> None:
        self._connector = None
        self._fail(HttpClientError(f"cannot connect to {self.address}: {exc}"))

    # -- StreamProtocol -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._h11 is None:
            return
        self._h11.receive_data(data)
        self._process()

    def eof_received(self) -> None:
        if self._h11 is not None:
            self._h11.receive_data(b"")
            self._process()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.stream = None
        if self.busy:
            if isinstance(exc, TlsError):  # its message names the cause
                host, port = self.address
                self._fail(
                    HttpClientError(
                        f"{exc} ({host}:{port})", certificate_refused=exc.certificate_refused
                    )
                )
            else:
                self._fail(HttpClientError(f"connection lost: {exc or 'closed by peer'}"))
        self._h11 = None

    def _process(self) -> None:
        conn = self._h11
        while conn is not None and conn is self._h11:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._fail(HttpClientError(f"bad response: {exc}"))
                self._close_stream()
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            kind = type(event)
            if kind is h11.InformationalResponse:
                assert isinstance(event, h11.InformationalResponse)
                if event.status_code == 101 and self._ws_on_open is not None:
                    self._switched(event)
                    return
            elif kind is h11.Response:
                assert isinstance(event, h11.Response)
                self._response = event
            elif kind is h11.Data:
                assert isinstance(event, h11.Data)
                self._body.append(bytes(event.data))
                self._body_len += len(event.data)
                if self._body_len > self.max_body:
                    self._fail(HttpClientError("response too large"))
                    self._close_stream()
                    return
            elif kind is h11.EndOfMessage:
                self._finish_response(conn)
            elif kind is h11.ConnectionClosed:
                self._close_stream()
                return

    def _finish_response(self, conn: h11.Connection) -> None:
        response, self._response = self._response, None
        body, self._body, self._body_len = b"".join(self._body), [], 0
        assert response is not None
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers]
        result = HttpResult(response.status_code, headers, body)
        # Ready the connection for the next request first: the callback may well make one.
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:
            self._close_stream()
        if self._ws_on_open is not None:
            self._ws_on_open = None
            self._fail(HttpClientError(f"websocket refused with HTTP {response.status_code}"))
        else:
            on_result = self._on_result
            self._on_result = self._on_error = None
            if on_result is not None:
                on_result(result)

    def _switched(self, event: h11.InformationalResponse) -> None:
        conn = self._h11
        on_open, self._ws_on_open = self._ws_on_open, None
        stream = self.stream
        if conn is None or on_open is None or stream is None:
            self._close_stream()
            return
        headers = {k.decode("latin-1").lower(): v for k, v in event.headers}
        assert self._ws_key is not None
        if headers.get("sec-websocket-accept") != generate_accept_token(self._ws_key):
            self._fail(HttpClientError("bad Sec-WebSocket-Accept"))
            self._close_stream()
            return
        self._on_error = None
        trailing, _ = conn.trailing_data
        self._h11 = None
        self.stream = None
        ws = WebSocketConnection(self._ws_max, trailing_data=bytes(trailing), client=True)
        stream.protocol = ws
        ws.attach(stream)
        on_open(ws)

    def _close_stream(self) -> None:
        stream, self.stream = self.stream, None
        self._h11 = None
        if stream is not None:
            stream.protocol = _Discard()
            stream.close()

    def _fail(self, exc: BaseException) -> None:
        on_error = self._on_error
        self._on_result = self._on_error = None
        self._ws_on_open = None
        if on_error is not None:
            on_error(exc)

    def close(self) -> None:
        """Drop the connection; a request in flight gets no callback."""
        self.closed = True
        self._on_result = self._on_error = None
        self._ws_on_open = None
        if self._connector is not None:
            self._connector.cancel()
            self._connector = None
        self._close_stream()


class _Discard:
    """The protocol of a stream we are done with."""

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        pass
