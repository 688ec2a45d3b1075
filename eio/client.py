"""The Engine.IO v4 client, on the same reactor as the server.

By default it does what the official client does: a polling handshake, then an upgrade to
websocket (``2probe``/``3probe``, polling paused, ``5``). ``transports=("websocket",)`` opens a
websocket directly; ``("polling",)`` never upgrades. A server that sends no ping within
pingInterval + pingTimeout is considered dead ("ping timeout").
"""

from __future__ import annotations

import itertools
import json
import logging
import ssl
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from reactor import Reactor, TimerHandle, client_tls_context

from .errors import EngineIOError, ParseError
from .net.http_client import HttpClientConnection, HttpClientError, HttpResult
from .net.websocket import WebSocketConnection
from .protocol.handshake import OpenPayload
from .protocol.json_depth import json_depth_exceeds
from .protocol.packet import Packet, PacketType, decode_packet
from .protocol.payload import decode_payload, encode_payload

__all__ = ["ClientListener", "ClientState", "EngineClient", "EngineClientError"]

log = logging.getLogger(__name__)

_counter = itertools.count()

#: Seconds a polling close waits for its last POST (the one carrying CLOSE) before giving up.
CLOSE_TIMEOUT = 5.0
#: Deepest nesting of arrays/objects accepted in a server's JSON (the OPEN payload, an error
#: body) before it is parsed: both nest 2 deep at most; a hostile peer's 100,000 deep would
#: otherwise raise RecursionError in ``json.loads``.
MAX_JSON_DEPTH = 64


class EngineClientError(EngineIOError):
    """Why a client connection failed (refused handshake, network error, bad packet).

    ``status`` is the HTTP status of a refusal, None for any other failure.
    ``certificate_refused``: the server's TLS certificate failed verification (expired, for
    another name, from an unknown CA): trying again will not help.
    """

    def __init__(
        self, message: str, status: int | None = None, *, certificate_refused: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.certificate_refused = certificate_refused


class ClientState(Enum):
    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"


class ClientListener(Protocol):
    def on_open(self, client: EngineClient) -> None: ...

    def on_message(self, client: EngineClient, data: str) -> None: ...

    def on_binary(self, client: EngineClient, data: bytes) -> None: ...

    def on_upgrade(self, client: EngineClient, transport: str) -> None:
        """The connection moved to ``transport`` (polling -> websocket)."""
        ...

    def on_ping(self, client: EngineClient) -> None:
        """The server pinged (and has been answered)."""
        ...

    def on_close(self, client: EngineClient, reason: str, error: BaseException | None) -> None:
        """Called once per ``open()``: "transport close", "transport error", "ping timeout",
        "parse error" or "forced close" (our own ``close()``/``abort()``). Unless forced, ``error``
        is never None when the connection closed before it opened (``sid`` is None then)."""
        ...


#: URL scheme -> (TLS?, default port). The transports follow the scheme's security: an https
#: URL's websocket is wss, a ws URL's polling is http.
SCHEMES = {"http": (False, 80), "ws": (False, 80), "https": (True, 443), "wss": (True, 443)}


def parse_url(url: str) -> tuple[str, int, str, bool]:
    """``http://host:port`` (or ws://, https://, wss://) -> (host, port, Host header, TLS?)."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"unsupported URL scheme {parts.scheme!r} (http://, https://, ws:// or wss://)"
        )
    tls, default_port = SCHEMES[parts.scheme]
    host = parts.hostname or "localhost"
    port = parts.port or default_port
    host_header = parts.netloc.rpartition("@")[2] or host
    return host, port, host_header, tls


class EngineClient:
    """One Engine.IO connection. ``open()`` starts it; the listener hears everything else."""

    def __init__(
        self,
        reactor: Reactor,
        url: str,
        listener: ClientListener,
        *,
        path: str = "/engine.io/",
        transports: Iterable[str] = ("polling", "websocket"),
        upgrade: bool = True,
        query: dict[str, str] | None = None,
        headers: list[tuple[str, str]] | None = None,
        local_address: str | None = None,
        ssl_verify: bool = True,
        ca_file: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.reactor = reactor
        self.listener = listener
        host, port, self._host_header, tls = parse_url(url)
        self._address = (host, port)
        #: For https/wss URLs: ``ssl_context`` if given, else the system's CAs plus ``ca_file``,
        #: verifying the certificate and the host name unless ``ssl_verify`` is False.
        self.ssl_context: ssl.SSLContext | None = None
        if tls:
            self.ssl_context = ssl_context or client_tls_context(cafile=ca_file, verify=ssl_verify)
        self._path = "/" + path.strip("/") + "/"
        self.transports = tuple(transports)
        if not self.transports or any(t not in ("polling", "websocket") for t in self.transports):
            raise ValueError(f"transports must be polling and/or websocket: {self.transports}")
        self._upgrade = upgrade
        self._query = dict(query or {})
        self._headers = list(headers or [])
        self.local_address = local_address
        self.state = ClientState.CLOSED
        self.sid: str | None = None
        self.transport: str | None = None
        self.ping_interval = 25.0
        self.ping_timeout = 20.0
        self.max_payload = 1_000_000
        self.upgrades: tuple[str, ...] = ()
        self._buffer: list[str | bytes] = []
        self._get: HttpClientConnection | None = None
        self._post: HttpClientConnection | None = None
        self._polling = False
        self._posting = False
        self._paused = False
        self._ws: WebSocketConnection | None = None
        self._probe: WebSocketConnection | None = None
        self._probe_ok = False
        self._ping_timer: TimerHandle | None = None
        self._close_timer: TimerHandle | None = None
        self._closing = False
        self._generation = 0

    # -- public API -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.state is ClientState.OPEN

    def open(self) -> None:
        """Start connecting (a no-op unless closed)."""
        if self.state is not ClientState.CLOSED:
            return
        self.state = ClientState.OPENING
        self._generation += 1
        self.sid = None
        self._buffer = []
        self._paused = self._polling = self._posting = False
        if self.transports[0] == "websocket" or "polling" not in self.transports:
            self.transport = "websocket"
            self._open_websocket(handshake=True)
        else:
            self.transport = "polling"
            self._get = self._http()
            self._request_poll(self._on_handshake)

    def send(self, data: str) -> None:
        """Send a text message (buffered until the connection is open). On the reactor's
        thread only (RuntimeError otherwise), as every method."""
        self._send_packet("4" + data)

    def send_binary(self, data: bytes) -> None:
        """Send a binary message (buffered until the connection is open)."""
        self._send_packet(bytes(data))

    def close(self) -> None:
        """Close from our side ("forced close"). Packets already queued go out first, then a
        CLOSE packet (over polling, the last POST carries it; at most ``CLOSE_TIMEOUT`` later
        the connection is dropped anyway)."""
        if self.state is ClientState.CLOSED or self._closing:
            return
        if self.state is ClientState.OPEN:
            if self.transport == "websocket" and self._ws is not None:
                self._ws.send_text("1")  # frames leave in order; the stream closes after them
            else:
                self._closing = True
                self._paused = True  # no more polls
                self._buffer.append("1")
                self._flush_polling()
                self._close_timer = self.reactor.call_later(
                    CLOSE_TIMEOUT, self._finish, "forced close", None
                )
                return
        self._finish("forced close", None)

    def abort(self, reason: str = "forced close", error: BaseException | None = None) -> None:
        """Drop the connection at once (nothing more is sent); the listener's ``on_close``
        gets ``reason`` and ``error``."""
        self._finish(reason, error)

    # -- plumbing -------------------------------------------------------------------------------

    def _http(self) -> HttpClientConnection:
        return HttpClientConnection(
            self.reactor,
            self._address,
            self._host_header,
            local_address=self.local_address,
            ssl_context=self.ssl_context,
        )

    def _target(self, transport: str) -> str:
        query = {"EIO": "4", "transport": transport, **self._query}
        if self.sid is not None:
            query["sid"] = self.sid
        if transport == "polling":
            query["t"] = format(next(_counter), "x")
        return self._path + "?" + urlencode(query)

    def _send_packet(self, item: str | bytes) -> None:
        # Every packet of both layers passes here: a send from another thread could write its
        # frame on the new websocket before the upgrade's "5" (the server then aborts it).
        self.reactor.check_thread("EngineClient.send")
        if self.state is ClientState.CLOSED or self._closing:
            return
        if self.state is ClientState.OPEN and self.transport == "websocket" and self._ws:
            if isinstance(item, str):
                self._ws.send_text(item)
            else:
                self._ws.send_binary(item)
            return
        self._buffer.append(item)
        if self.state is ClientState.OPEN:
            self._flush_polling()

    def _finish(self, reason: str, error: BaseException | None) -> None:
        if self.state is ClientState.CLOSED:
            return
        if self.state is ClientState.OPENING and error is None and reason != "forced close":
            # Whoever opened us hears why the attempt failed, even from a silent peer.
            error = EngineClientError(f"{reason} before the handshake completed")
        elif isinstance(error, HttpClientError) and error.certificate_refused:
            error = EngineClientError(str(error), certificate_refused=True)
        self.state = ClientState.CLOSED
        self._generation += 1
        self._closing = False
        for timer in (self._ping_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._close_timer = None
        for conn in (self._get, self._post):
            if conn is not None:
                conn.close()
        self._get = self._post = None
        for ws in (self._ws, self._probe):
            if ws is not None:
                ws.listener = _DEAD
                ws.close()
        self._ws = self._probe = None
        self._buffer = []
        log.debug("engine client closed: %s (%s)", reason, error)
        self.listener.on_close(self, reason, error)

    def _fail(self, reason: str, error: BaseException | None) -> None:
        self._finish(reason, error)

    # -- handshake ------------------------------------------------------------------------------

    def _on_handshake(self, result: HttpResult) -> None:
        if self.state is not ClientState.OPENING:
            return
        if result.status != 200:
            self._fail("transport error", _refusal(result))
            return
        try:
            packets = decode_payload(result.body)
        except ParseError as exc:
            self._fail("parse error", exc)
            return
        if not packets or packets[0].type is not PacketType.OPEN:
            self._fail("parse error", EngineClientError("the handshake has no OPEN packet"))
            return
        if not self._opened(packets[0]):
            return
        for packet in packets[1:]:
            if not self._on_packet(packet):
                return
        self._poll()
        self._maybe_upgrade()

    def _opened(self, packet: Packet) -> bool:
        text = str(packet.data)
        try:
            if json_depth_exceeds(text, MAX_JSON_DEPTH):
                raise ValueError(f"JSON nested too deeply (over {MAX_JSON_DEPTH} levels)")
            payload = OpenPayload.from_json(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: belt and braces
            self._fail("parse error", EngineClientError(f"bad OPEN packet: {exc}"))
            return False
        self.sid = payload.sid
        self.ping_interval = payload.ping_interval_ms / 1000
        self.ping_timeout = payload.ping_timeout_ms / 1000
        self.max_payload = payload.max_payload
        self.upgrades = payload.upgrades
        self.state = ClientState.OPEN
        self._reset_ping_timer()
        generation = self._generation
        self.listener.on_open(self)
        if generation != self._generation:
            return False  # closed by the listener
        self._flush_polling()
        return True

    # -- packets --------------------------------------------------------------------------------

    def _on_packet(self, packet: Packet) -> bool:
        """Handle one packet; False if the connection closed meanwhile."""
        generation = self._generation
        kind = packet.type
        if kind is PacketType.MESSAGE:
            if isinstance(packet.data, str):
                self.listener.on_message(self, packet.data)
            else:
                self.listener.on_binary(self, packet.data)
        elif kind is PacketType.PING:
            self._reset_ping_timer()
            self._send_packet("3")
            self.listener.on_ping(self)
        elif kind is PacketType.CLOSE:
            self._finish("transport close", None)
        return generation == self._generation

    def _reset_ping_timer(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        self._ping_timer = self.reactor.call_later(
            self.ping_interval + self.ping_timeout, self._ping_timed_out
        )

    def _ping_timed_out(self) -> None:
        self._ping_timer = None
        self._fail("ping timeout", EngineClientError("no ping from the server"))

    # -- polling --------------------------------------------------------------------------------

    def _poll(self) -> None:
        if self.state is not ClientState.OPEN or self.transport != "polling" or self._paused:
            return
        if self._polling:
            return
        self._polling = True
        self._request_poll(self._on_poll)

    def _request_poll(self, on_result: Callable[[HttpResult], None]) -> None:
        if self._get is None:
            self._get = self._http()
        self._get.request(
            "GET",
            self._target("polling"),
            on_result,
            self._on_http_error,
            headers=self._headers,
        )

    def _on_poll(self, result: HttpResult) -> None:
        self._polling = False
        if self.state is not ClientState.OPEN:
            return
        if result.status != 200:
            self._fail("transport error", _refusal(result))
            return
        try:
            packets = decode_payload(result.body)
        except ParseError as exc:
            for packet in exc.decoded:
                if not self._on_packet(packet):
                    return
            self._fail("parse error", exc)
            return
        for packet in packets:
            if not self._on_packet(packet):
                return
        if self._paused:
            self._maybe_finish_pause()
        else:
            self._poll()

    def _flush_polling(self) -> None:
        if self.transport != "polling" or self._posting or not self._buffer:
            return
        if self.state is not ClientState.OPEN:
            return
        batch: list[str | bytes] = []
        size = 0
        while self._buffer:
            item = self._buffer[0]
            item_size = len(item) if isinstance(item, str) else len(item) * 4 // 3 + 4
            if batch and size + item_size + 1 > self.max_payload:
                break
            batch.append(self._buffer.pop(0))
            size += item_size + 1
        self._posting = True
        if self._post is None:
            self._post = self._http()
        self._post.request(
            "POST",
            self._target("polling"),
            self._on_posted,
            self._on_http_error,
            headers=[*self._headers, ("content-type", "text/plain;charset=UTF-8")],
            body=encode_payload(batch).encode("utf-8"),
        )

    def _on_posted(self, result: HttpResult) -> None:
        self._posting = False
        if self.state is not ClientState.OPEN:
            return
        if result.status != 200:
            self._fail("transport error", _refusal(result))
            return
        if self._closing:
            if self._buffer:
                self._flush_polling()
            else:
                self._finish("forced close", None)
        elif self._paused:
            self._maybe_finish_pause()
        else:
            self._flush_polling()

    def _on_http_error(self, error: BaseException) -> None:
        self._polling = self._posting = False
        self._fail("transport error", error)

    # -- websocket ------------------------------------------------------------------------------

    def _open_websocket(self, handshake: bool) -> None:
        conn = self._http()
        generation = self._generation

        def opened(ws: WebSocketConnection) -> None:
            if generation != self._generation:
                ws.close()
                return
            if handshake:
                self._ws = ws
                ws.start(_WebSocketListener(self, probe=False))
            else:
                self._probe = ws
                ws.start(_WebSocketListener(self, probe=True))
                ws.send_text("2probe")

        def failed(error: BaseException) -> None:
            if generation != self._generation:
                return
            if handshake:
                self._fail("transport error", error)
            else:
                log.debug("websocket upgrade failed: %s", error)
                self._probe = None

        conn.websocket(
            self._target("websocket"),
            opened,
            failed,
            headers=self._headers,
            max_message=max(self.max_payload, 1_000_000) * 2,
        )

    def _maybe_upgrade(self) -> None:
        if (
            self._upgrade
            and self.state is ClientState.OPEN
            and self.transport == "polling"
            and "websocket" in self.upgrades
            and "websocket" in self.transports
        ):
            self._open_websocket(handshake=False)

    def _ws_text(self, ws: WebSocketConnection, text: str, probe: bool) -> None:
        if probe:
            if ws is not self._probe:
                return
            if text == "3probe":
                self._probe_ok = True
                self._paused = True  # no new polls: the pending one is answered with a noop
                self._maybe_finish_pause()
            else:
                log.debug("unexpected packet during the upgrade probe: %r", text[:20])
                self._probe = None
                ws.close()
            return
        if ws is not self._ws:
            return
        try:
            packet = decode_packet(text)
        except ParseError as exc:
            self._fail("parse error", exc)
            return
        if self.state is ClientState.OPENING:
            if packet.type is PacketType.OPEN:
                self._opened(packet)
            else:
                self._fail("parse error", EngineClientError("the handshake has no OPEN packet"))
            return
        if self.state is ClientState.OPEN:
            self._on_packet(packet)

    def _ws_binary(self, ws: WebSocketConnection, data: bytes) -> None:
        if ws is self._ws and self.state is ClientState.OPEN:
            self.listener.on_binary(self, data)

    def _ws_closed(self, ws: WebSocketConnection, error: BaseException | None, probe: bool) -> None:
        if probe:
            if ws is self._probe:
                self._probe = None
                self._paused = False
                self._poll()
                self._flush_polling()
            return
        if ws is self._ws:
            self._ws = None
            self._fail("transport close" if error is None else "transport error", error)

    def _maybe_finish_pause(self) -> None:
        """Upgrade once polling is quiet: no GET and no POST in flight."""
        if not self._paused or self._polling or self._posting or self._closing:
            return
        probe = self._probe
        if probe is None or self.state is not ClientState.OPEN:
            self._paused = False
            return
        self._probe = None
        # "5" is the first frame of the new transport: anything before it makes the server
        # drop the candidate (and the connection with it, for us). So it leaves before the
        # switch, ahead of whatever the closes below or the listener might send.
        probe.send_text("5")
        probe.listener = _WebSocketListener(self, probe=False)
        self._ws = probe
        self.transport = "websocket"
        self._paused = False
        for conn in (self._get, self._post):
            if conn is not None:
                conn.close()
        self._get = self._post = None
        buffered, self._buffer = self._buffer, []
        for item in buffered:
            if isinstance(item, str):
                probe.send_text(item)
            else:
                probe.send_binary(item)
        self.listener.on_upgrade(self, "websocket")


class _WebSocketListener:
    __slots__ = ("client", "probe")

    def __init__(self, client: EngineClient, probe: bool) -> None:
        self.client = client
        self.probe = probe

    def ws_text(self, ws: WebSocketConnection, text: str) -> None:
        self.client._ws_text(ws, text, self.probe)

    def ws_binary(self, ws: WebSocketConnection, data: bytes) -> None:
        if not self.probe:
            self.client._ws_binary(ws, data)

    def ws_closed(self, ws: WebSocketConnection, exc: BaseException | None) -> None:
        self.client._ws_closed(ws, exc, self.probe)


class _DeadListener:
    def ws_text(self, ws: WebSocketConnection, text: str) -> None:
        pass

    def ws_binary(self, ws: WebSocketConnection, data: bytes) -> None:
        pass

    def ws_closed(self, ws: WebSocketConnection, exc: BaseException | None) -> None:
        pass


_DEAD = _DeadListener()


def _refusal(result: HttpResult) -> EngineClientError:
    """The server's refusal as an error carrying its Engine.IO code and message."""
    message = f"HTTP {result.status}"
    try:
        text = result.body.decode("utf-8")
        if json_depth_exceeds(text, MAX_JSON_DEPTH):
            raise ValueError("JSON nested too deeply")
        body = json.loads(text)
        if isinstance(body, dict) and "message" in body:
            message = f"HTTP {result.status}: {body['message']} (code {body.get('code')})"
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        if result.body:
            message = f"HTTP {result.status}: {result.body[:200]!r}"
    return EngineClientError(message, result.status)
