"""HTTP/1.1 server connections on h11: one request at a time, keep-alive, the 101 hand-off.

The connection parses requests and hands each to a ``RequestHandler`` (the Engine.IO server),
which answers in one of four ways: ``respond()`` now, ``read_body()`` first (POST), ``park()``
the request until it can be answered (a long-polling GET), or ``accept_websocket()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Protocol

import h11
from wsproto.utilities import generate_accept_token

from reactor import Reactor, Stream, TimerHandle

if TYPE_CHECKING:
    from .websocket import WebSocketConnection

__all__ = ["HttpConnection", "HttpRequest", "HttpResponse", "RequestHandler"]

log = logging.getLogger(__name__)

#: Seconds a connection may wait for a request, or between keep-alive requests, before it is
#: closed (node's headersTimeout is 60 s; its keepAliveTimeout, 5 s).
DEFAULT_IDLE_TIMEOUT = 60.0
#: Seconds a request may take to arrive whole, head and body, before it is answered 408 and
#: closed (node's requestTimeout, 300 s).
DEFAULT_REQUEST_TIMEOUT = 300.0
#: Largest request head (request line + headers) we parse, as h11's default and node's 16 KiB.
MAX_HEAD_SIZE = 16 * 1024


_METHODS = {name.encode(): name for name in ("GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE")}
_VERSIONS = {b"1.1": "1.1", b"1.0": "1.0"}


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A parsed request head. Header names are lower-case; values are decoded as latin-1.

    The headers are kept as one string (``"\\nname:value\\nname:value\\n"``): a session keeps
    its handshake request for its whole life, and one string costs a fraction of a tuple of
    tuples of strings.
    """

    method: str
    target: str
    raw_headers: str
    remote_address: tuple[str, int] | None = None
    http_version: str = "1.1"

    # The path and the query are read once or twice per request and kept for a session's life:
    # derived, not stored (two strings less per connection).
    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query_string(self) -> str:
        return self.target.partition("?")[2]

    @classmethod
    def build(
        cls,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
        remote_address: tuple[str, int] | None = None,
        http_version: str = "1.1",
    ) -> HttpRequest:
        """A request from its parts (header names are lower-cased)."""
        raw = "".join(f"\n{name.lower()}:{value}" for name, value in headers) + "\n"
        return cls(method, target, raw, remote_address, http_version)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Every header, in order, as (lower-case name, value) pairs."""
        pairs = []
        for line in self.raw_headers.split("\n"):
            if line:
                name, _, value = line.partition(":")
                pairs.append((name, value))
        return tuple(pairs)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), or None."""
        raw = self.raw_headers
        key = "\n" + name + ":"
        start = raw.find(key)
        if start < 0:
            return None
        start += len(key)
        return raw[start : raw.find("\n", start)]

    @property
    def is_websocket_upgrade(self) -> bool:
        upgrade = self.header("upgrade")
        return upgrade is not None and upgrade.strip().lower() == "websocket"


@dataclass(slots=True)
class HttpResponse:
    """A complete response. ``Content-Length`` is added when it is sent."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def _head_size(event: h11.Request) -> int:
    """The size of a request head, near enough (request line and header lines)."""
    size = len(event.method) + len(event.target) + 12
    for name, value in event.headers:
        size += len(name) + len(value) + 4
    return size


class RequestHandler(Protocol):
    def handle_request(self, conn: HttpConnection, request: HttpRequest) -> None:
        """Answer ``request`` on ``conn`` now or later (see the module docstring)."""
        ...


class HttpConnection:
    """The server side of one HTTP/1.1 connection, until it becomes a websocket."""

    __slots__ = (
        "_body",
        "_body_len",
        "_body_limit",
        "_h11",
        "_handler",
        "_idle_since",
        "_idle_timeout",
        "_idle_timer",
        "_on_abort",
        "_on_body",
        "_on_too_large",
        "_pending_upgrade",
        "_request",
        "_request_since",
        "_request_timeout",
        "reactor",
        "stream",
    )

    def __init__(
        self,
        reactor: Reactor,
        handler: RequestHandler,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        request_timeout: float | None = None,
    ) -> None:
        self.reactor = reactor
        self._handler = handler
        self._idle_timeout = idle_timeout
        if request_timeout is None:  # the handler's config says (EngineIOConfig.request_timeout)
            config = getattr(handler, "config", None)
            request_timeout = getattr(config, "request_timeout", DEFAULT_REQUEST_TIMEOUT)
        #: Seconds a request may take to arrive whole (0: no limit).
        self._request_timeout: float = request_timeout
        #: When the request in progress began (its head was parsed).
        self._request_since = 0.0
        #: Since when no request is in progress (None while one is).
        self._idle_since: float | None = None
        self._idle_timer: TimerHandle | None = None
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_SIZE)
        self.stream: Stream | None = None
        self._request: HttpRequest | None = None
        self._body: list[bytes] | None = None
        self._body_len = 0
        self._body_limit = 0
        self._on_body: Callable[[bytes], None] | None = None
        self._on_too_large: Callable[[], None] | None = None
        self._on_abort: Callable[[], None] | None = None
        self._pending_upgrade: HttpRequest | None = None

    def attach(self, stream: Stream) -> None:
        self.stream = stream
        self._idle_since = self.reactor.time()
        period = self._check_period()
        if period > 0:
            self._idle_timer = self.reactor.call_later(period, self._check_idle)

    def _check_period(self) -> float:
        """Seconds between two checks of a connection with no deadline near (0: never check)."""
        return self._idle_timeout if self._idle_timeout > 0 else self._request_timeout

    def _check_idle(self) -> None:
        """Close a connection that waited ``idle_timeout`` for a request (or for its next one
        on keep-alive); answer 408 to a request whose body has not arrived within
        ``request_timeout``. One lazily re-armed timer per connection, however many requests."""
        self._idle_timer = None
        stream = self.stream
        if stream is None or stream.closing or stream.protocol is not self:
            return  # closed, or now a websocket
        now = self.reactor.time()
        since = self._idle_since
        if since is None:  # a request in progress: a parked poll is bounded by its session
            when = now + self._check_period()
            if self._request_timeout > 0 and self._h11.their_state is h11.SEND_BODY:
                deadline = self._request_since + self._request_timeout
                if now >= deadline:
                    self._request_timed_out()
                    return
                when = min(when, deadline)
        elif self._idle_timeout <= 0:
            when = now + self._check_period()
        elif now - since >= self._idle_timeout:
            log.debug("closing idle HTTP connection from %s", stream.peer)
            stream.close()
            return
        else:
            when = since + self._idle_timeout
        self._idle_timer = self.reactor.call_at(when, self._check_idle)

    def _request_timed_out(self) -> None:
        """The request's body did not arrive in time: 408 (if not answered yet) and close."""
        log.debug("request timeout on HTTP connection from %s", self.stream and self.stream.peer)
        on_abort, self._on_abort = self._on_abort, None  # a POST being read: its session hears
        self._on_body = self._on_too_large = None
        if self._h11.our_state is h11.SEND_RESPONSE:
            self.respond(408, [("content-type", "text/plain")], b"Request Timeout", close=True)
        elif self.stream is not None:
            self.stream.close()
        if on_abort is not None:
            on_abort()

    def _arm_request_timer(self, now: float) -> None:
        """Make the timer fire by the new request's deadline (only when the idle timer's
        deadline may be later: a request timeout shorter than the idle timeout)."""
        deadline = now + self._request_timeout
        timer = self._idle_timer
        if timer is None or timer.when > deadline:
            if timer is not None:
                timer.cancel()
            self._idle_timer = self.reactor.call_at(deadline, self._check_idle)

    def _stop_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    @property
    def request(self) -> HttpRequest | None:
        """The request being answered, if any."""
        return self._request

    # -- StreamProtocol -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._h11.receive_data(data)
        self._process()

    def eof_received(self) -> None:
        self._h11.receive_data(b"")
        self._process()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_idle_timer()
        on_abort, self._on_abort = self._on_abort, None
        self._on_body = self._on_too_large = None
        if on_abort is not None:
            on_abort()
        self.stream = None  # it points back at us: no cycle, freed at once

    # -- parsing --------------------------------------------------------------------------------

    def _process(self) -> None:
        conn = self._h11
        while self.stream is not None and not self.stream.closing:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._bad_request(exc)
                return
            if event is h11.NEED_DATA:
                body_len = self._body_len + self._chunk_left()  # a chunk's declared size too
                if self._body is not None and body_len > self._body_limit:
                    self._too_large()
                return
            if event is h11.PAUSED:
                return
            kind = type(event)
            if kind is h11.Request:
                assert isinstance(event, h11.Request)
                if _head_size(event) > MAX_HEAD_SIZE:
                    # h11 bounds only a head still incomplete; one read may bring a whole one.
                    self.respond(
                        431, [("content-type", "text/plain")], b"Headers Too Large", close=True
                    )
                    return
                request = self._make_request(event)
                self._request = request
                self._idle_since = None
                if request.header("transfer-encoding") is not None and (
                    request.header("content-length") is not None
                ):
                    # Both framings: a request smuggling attempt (RFC 9112 section 6.3).
                    self.respond(400, [("content-type", "text/plain")], b"Bad Request", close=True)
                    return
                if self._request_timeout > 0:
                    now = self._request_since = self.reactor.time()
                    if self._request_timeout < self._idle_timeout or self._idle_timer is None:
                        self._arm_request_timer(now)
                if request.is_websocket_upgrade:
                    self._pending_upgrade = request  # answer once h11 has the whole request
                else:
                    self._handler.handle_request(self, request)
            elif kind is h11.Data:
                assert isinstance(event, h11.Data)
                self._take_body(bytes(event.data))
            elif kind is h11.EndOfMessage:
                upgrade, self._pending_upgrade = self._pending_upgrade, None
                if upgrade is not None:
                    self._handler.handle_request(self, upgrade)
                elif self._on_body is not None:
                    on_body, self._on_body = self._on_body, None
                    body, self._body = b"".join(self._body or ()), None
                    on_body(body)
                elif conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                    conn.start_next_cycle()  # answered before the request ended; next one
                    self._idle_since = self.reactor.time()
            elif kind is h11.ConnectionClosed:
                assert self.stream is not None
                self.stream.close()
                return

    def _make_request(self, event: h11.Request) -> HttpRequest:
        # h11 lower-cases names and refuses CR/LF in values, so "\n" and ":" delimit safely.
        raw = b"".join(b"\n" + name + b":" + value for name, value in event.headers) + b"\n"
        assert self.stream is not None
        # The usual method and version as shared strings: a session keeps its request.
        method = event.method
        version = event.http_version
        return HttpRequest(
            _METHODS.get(method) or method.decode("ascii"),
            event.target.decode("latin-1"),
            raw.decode("latin-1"),
            self.stream.peer,
            _VERSIONS.get(version) or version.decode("ascii"),
        )

    def _take_body(self, chunk: bytes) -> None:
        if self._body is None:
            return  # a body nobody asked for: discard it
        self._body_len += len(chunk)
        if self._body_len > self._body_limit:
            self._too_large()
            return
        self._body.append(chunk)

    def _too_large(self) -> None:
        self._body = None
        on_too_large, self._on_too_large = self._on_too_large, None
        self._on_body = None
        if on_too_large is not None:
            on_too_large()

    def _chunk_left(self) -> int:
        """Bytes of the current chunk of a chunked body still to come, as its size line said.

        h11 does not tell; its chunked reader keeps the count (0 if that ever changes, and
        ``request_timeout`` still bounds the body).
        """
        reader = getattr(self._h11, "_reader", None)
        left = getattr(reader, "_bytes_in_chunk", 0)
        return left if isinstance(left, int) else 0

    def _drain_body(self) -> bool:
        """Discard the rest of the request body already received; did the request end?"""
        conn = self._h11
        while conn.their_state is h11.SEND_BODY:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                return False
            if event is h11.NEED_DATA or event is h11.PAUSED or type(event) is h11.ConnectionClosed:
                return False
        return conn.their_state is h11.DONE

    def _bad_request(self, exc: h11.RemoteProtocolError) -> None:
        log.debug("bad HTTP from %s: %s", self.stream and self.stream.peer, exc)
        # A request being read or parked (a POST cut off mid-body) is aborted, not answered:
        # respond() would drop the abort callback, and the session would never hear of it.
        on_abort, self._on_abort = self._on_abort, None
        self._on_body = self._on_too_large = None
        if self._h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            status = exc.error_status_hint
            self.respond(status, [("content-type", "text/plain")], b"Bad Request", close=True)
        elif self.stream is not None:
            self.stream.close()
        if on_abort is not None:
            on_abort()

    # -- answering ------------------------------------------------------------------------------

    def read_body(
        self,
        limit: int,
        on_body: Callable[[bytes], None],
        on_too_large: Callable[[], None],
    ) -> None:
        """Collect the request body (at most ``limit`` bytes, checked as it arrives)."""
        request = self._request
        assert request is not None
        length = request.header("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            on_too_large()
            return
        self._body = []
        self._body_len = 0
        self._body_limit = limit
        self._on_body = on_body
        self._on_too_large = on_too_large

    def park(self, on_abort: Callable[[], None]) -> None:
        """Keep the request open; ``on_abort`` runs if the client goes away first."""
        self._on_abort = on_abort

    def respond(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        *,
        close: bool = False,
    ) -> None:
        """Send a complete response; then read the next request on this connection, if any."""
        stream = self.stream
        if stream is None or stream.closing:
            return
        conn = self._h11
        self._on_abort = None
        self._on_body = self._on_too_large = None
        self._body = None
        self._pending_upgrade = None
        if conn.their_state is h11.SEND_BODY and not close and not self._drain_body():
            close = True  # answered before its body arrived: do not read on after it
        hdrs = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        hdrs.append((b"content-length", str(len(body)).encode()))
        if close:
            hdrs.append((b"connection", b"close"))
        try:
            response = h11.Response(status_code=status, headers=hdrs, reason=_reason(status))
            out = conn.send(response) or b""
            head = self._request is not None and self._request.method == "HEAD"
            if body and not head:  # a HEAD answer has the headers of a GET's, and no body
                out += conn.send(h11.Data(data=body)) or b""
            out += conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:
            log.debug("cannot respond in state %s", conn.states)
            stream.close()
            return
        stream.write(out)
        self._request = None
        if conn.our_state is h11.MUST_CLOSE or close:
            stream.close(linger=conn.their_state is not h11.DONE)
            return
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            self._idle_since = self.reactor.time()
            if conn.trailing_data[0]:
                # A pipelined request is already buffered: answer it after this tick's writes.
                self.reactor.call_soon(self._process)

    def accept_websocket(
        self,
        make_protocol: Callable[[bytes], WebSocketConnection],
        extension_header: str | None = None,
        extra_headers: list[tuple[str, str]] | None = None,
    ) -> WebSocketConnection | None:
        """Answer 101 and turn the connection into a websocket.

        Returns the websocket protocol (built by ``make_protocol`` from the bytes that followed the
        request; its ``start()`` feeds them in), or None if the request was not a valid websocket
        handshake (answered 400).
        """
        request = self._request
        stream = self.stream
        assert request is not None and stream is not None
        key = request.header("sec-websocket-key")
        version = request.header("sec-websocket-version")
        if not key or version != "13":
            self.respond(
                400, [("content-type", "text/plain")], b"Bad websocket handshake", close=True
            )
            return None
        headers = [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", generate_accept_token(key.encode("latin-1"))),
        ]
        if extension_header:
            headers.append((b"sec-websocket-extensions", extension_header.encode("latin-1")))
        for name, value in extra_headers or ():
            headers.append((name.encode("latin-1"), value.encode("latin-1")))
        try:
            out = self._h11.send(h11.InformationalResponse(status_code=101, headers=headers))
        except h11.LocalProtocolError:
            stream.close()
            return None
        stream.write(out or b"")
        trailing, _closed = self._h11.trailing_data
        self._request = None
        self._stop_idle_timer()  # a websocket now: nothing may keep this object alive
        protocol = make_protocol(bytes(trailing))
        stream.protocol = protocol
        protocol.attach(stream)
        return protocol
