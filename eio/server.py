"""The Engine.IO server: routes HTTP requests and owns the session table.

Requests to the Engine.IO path are checked (``eio/protocol/request.py``), then become a
handshake, a poll or a POST of a polling session, or a websocket (a handshake or an upgrade).
Everything else goes to the application's own HTTP routes. ``EngineSocket`` (``eio/socket.py``)
is one session; its transports are in ``eio/transports/``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import gc
import logging
import resource
import socket
import sys
from collections.abc import Callable

from wsproto.extensions import PerMessageDeflate

from reactor import (
    Listener,
    Reactor,
    Stream,
    TimerHandle,
    TlsStream,
    open_listening_socket,
    server_tls_context,
    tune_accepted,
)

from .config import EngineIOConfig
from .errors import ErrorCode, RequestError
from .handler import Handler
from .net.http import HttpConnection, HttpRequest, HttpResponse
from .net.websocket import WebSocketConnection
from .protocol.cors import CorsPolicy
from .protocol.handshake import OpenPayload
from .protocol.request import (
    EngineRequest,
    TransportName,
    check_session_request,
    classify_request,
    parse_query,
)
from .protocol.session import DisconnectReason
from .protocol.sid import generate_sid
from .socket import EngineSocket
from .stats import EngineStats
from .transports.polling import TEXT_HEADERS, PollingTransport

__all__ = ["DeferredResponse", "EngineIOServer", "HttpHandler"]

log = logging.getLogger(__name__)


class DeferredResponse:
    """An answer an HTTP route gives later (gathered from other processes, say): the route
    returns this object and calls ``resolve(response)`` once, when it has the response."""

    __slots__ = ("_done", "_early", "_send")

    def __init__(self) -> None:
        self._send: Callable[[HttpResponse], None] | None = None
        self._early: HttpResponse | None = None
        self._done = False

    def bind(self, send: Callable[[HttpResponse], None]) -> None:
        """Where the response goes (the server binds it as soon as the route returns)."""
        if self._early is not None:
            response, self._early = self._early, None
            send(response)
            return
        if not self._done:
            self._send = send

    def resolve(self, response: HttpResponse) -> None:
        if self._done:
            return
        self._done = True
        send, self._send = self._send, None
        if send is not None:
            send(response)
        else:
            self._early = response  # resolved before the server bound it

    def abandon(self) -> None:
        """The client went away: a later ``resolve`` sends nothing."""
        self._done = True
        self._send = None


#: An application's own HTTP routes: return a response, a ``DeferredResponse``, or None
#: for 404.
HttpHandler = Callable[[HttpRequest], HttpResponse | DeferredResponse | None]

JSON_HEADERS = [("content-type", "application/json")]

#: Seconds a closing server waits for polling clients to fetch their CLOSE packet.
CLOSE_GRACE = 1.5

#: fds kept out of the default ``max_connections`` (RLIMIT_NOFILE minus this): the listening
#: sockets, the epoll fd, the waker, the listener's spare fd, log files, the cluster's bus and
#: fd channel, Redis connections, and the refused connections lingering below.
FD_RESERVE = 64
#: Refused connections (503) lingering at once; past it they are closed without lingering (a
#: flood of them must not hold the fds the limit protects).
MAX_REFUSED_LINGERING = 32
#: At most one log line per this many seconds about refused connections, with counts.
REFUSED_LOG_INTERVAL = 10.0
#: When the session table empties after holding at least this many sessions, the memory they
#: used is given back (``give_back_memory``).
GIVE_BACK_AFTER = 256
#: Seconds after the table emptied.
GIVE_BACK_DELAY = 1.0

#: The whole answer past ``max_connections``, built once: nginx's ``limit_conn`` status (503),
#: a JSON body in Engine.IO's error style (code 3, as a handshake refused while shutting down),
#: and no keep-alive. Written before the request is read: it answers whatever request comes.
_BUSY_BODY = RequestError(ErrorCode.BAD_REQUEST, "Too many connections", 503).body()
_NO_LIMIT = sys.maxsize
#: A handshake past ``max_sessions``: the same status, and the client retries after a second.
_TOO_MANY_SESSIONS = RequestError(ErrorCode.BAD_REQUEST, "Too many sessions", 503)
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_BUSY_BODY)).encode() + b"\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n\r\n" + _BUSY_BODY
)


def default_max_connections() -> int:
    """The fd limit of the process (as the reactor raised it) minus ``FD_RESERVE``."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 0
    return max(soft - FD_RESERVE, 1)


def _find_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc
        return None
    return trim


_malloc_trim = _find_malloc_trim()


def give_back_memory() -> None:
    """The session table emptied after many sessions (a heartbeat sweep of abandoned ones, a
    mass disconnect): their objects are freed already (no reference cycles), but the
    interpreter's free lists (tuples, floats...) keep blocks scattered over pymalloc's arenas,
    which it cannot give back while one block is in use, and glibc keeps the freed pages of its
    heap. A full collection empties the free lists, ``malloc_trim(0)`` returns glibc's free
    pages: a few ms, at most once per ``GIVE_BACK_AFTER`` sessions (measured: docs/security.md,
    "Memory"). A busy server reuses that memory instead: it grows with the sessions it holds at
    once, not with how many came and went."""
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)


class _RefusalLog:
    """Refusals past a limit, logged as one warning with their count at most every
    ``REFUSED_LOG_INTERVAL`` (a flood must not flood the log too)."""

    __slots__ = ("_count", "_limit_name", "_logged_at", "_what")

    def __init__(self, limit_name: str, what: str) -> None:
        self._limit_name = limit_name
        self._what = what
        self._count = 0  # since the last warning
        self._logged_at: float | None = None

    def count(self, limit: int, now: float) -> None:
        self._count += 1
        last = self._logged_at
        if last is None or now - last >= REFUSED_LOG_INTERVAL:
            log.warning(
                "%s (%d) reached: %d %s(s) answered 503%s",
                self._limit_name,
                limit,
                self._count,
                self._what,
                "" if last is None else f" in the last {now - last:.0f}s",
            )
            self._logged_at = now
            self._count = 0


class _Refused:
    """A connection past ``max_connections``: its 503 is written; what it sends is dropped."""

    __slots__ = ("lingering", "server")

    def __init__(self, server: EngineIOServer, lingering: bool) -> None:
        self.server = server
        self.lingering = lingering
        if lingering:
            server._refused_lingering += 1

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.lingering:
            self.server._refused_lingering -= 1


class EngineIOServer:
    """An Engine.IO v4 server on a reactor.

    Args:
        reactor: the loop it runs on.
        handler: the layer above (see ``eio.handler.Handler``).
        config: settings; see ``EngineIOConfig`` for every default.
        http_handler: serves requests outside the Engine.IO path (404 when absent or None).
        certfile, keyfile: serve TLS with this certificate chain and key (PEM files; the key may
            be in ``certfile``); the same as ``config.ssl_context = server_tls_context(...)``.

    Raises:
        reactor.TlsConfigError: ``certfile`` or ``keyfile`` cannot be loaded.
    """

    def __init__(
        self,
        reactor: Reactor,
        handler: Handler,
        config: EngineIOConfig | None = None,
        *,
        http_handler: HttpHandler | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
    ) -> None:
        self.reactor = reactor
        self.handler = handler
        self.config = config or EngineIOConfig()
        if certfile is not None:
            context = server_tls_context(certfile, keyfile)
            self.config = dataclasses.replace(self.config, ssl_context=context)
        self.http_handler = http_handler
        self.sessions: dict[str, EngineSocket] = {}
        #: Counters (``eio/stats.py``), read by metrics and reports.
        self.stats = EngineStats()
        #: ``stats`` once ``count_traffic()`` was called, else None: packets and bytes are
        #: counted only for someone who reads them (four increments are 2.5 % of an echo).
        self.traffic: EngineStats | None = None
        self._path = "/" + self.config.path.strip("/") + "/" if self.config.path.strip("/") else "/"
        self._cors = CorsPolicy(self.config.cors_allowed_origins, self.config.cors_credentials)
        self._listeners: list[Listener] = []
        self._streams: set[Stream] = set()
        self._closing = False
        self._connections_closed = False
        self._grace_timer: TimerHandle | None = None
        self._on_closed: list[Callable[[], None]] = []
        #: Open connections at most (0: no limit); see ``EngineIOConfig.max_connections``.
        self.max_connections = (
            default_max_connections()
            if self.config.max_connections is None
            else self.config.max_connections
        )
        #: Sessions at most (0: no limit); see ``EngineIOConfig.max_sessions``.
        self.max_sessions = (
            self.max_connections if self.config.max_sessions is None else self.config.max_sessions
        )
        self._sessions_refused = _RefusalLog("max_sessions", "handshake")
        self._refused_lingering = 0
        self._refused = _RefusalLog("max_connections", "connection")
        #: The most sessions held since memory was last given back (see ``session_ended``).
        self._sessions_peak = 0
        #: ``listener(session)`` once a session has moved to a websocket (tools such as the
        #: Admin UI; none by default).
        self.upgrade_listeners: list[Callable[[EngineSocket], None]] = []

    # -- sockets --------------------------------------------------------------------------------

    def listen(
        self, host: str = "127.0.0.1", port: int = 0, backlog: int = 1024
    ) -> tuple[str, int]:
        """Listen on ``host:port`` (0: any free port); returns the bound address."""
        return self.add_listening_socket(open_listening_socket(host, port, backlog))

    def add_listening_socket(self, sock: socket.socket) -> tuple[str, int]:
        sock.setblocking(False)
        listener = Listener(self.reactor, sock, self.adopt)
        self._listeners.append(listener)
        return listener.address

    def admit_origins(self, origins: list[str]) -> None:
        """Also admit these origins (with credentials) besides ``cors_allowed_origins``."""
        self._cors.admit(origins)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [listener.address for listener in self._listeners]

    @property
    def connection_count(self) -> int:
        """Open connections (HTTP, polling, websocket), the ones ``max_connections`` counts."""
        return len(self._streams)

    def adopt(
        self,
        sock: socket.socket,
        peer: tuple[str, int] | None = None,
        initial_data: bytes = b"",
    ) -> None:
        """Serve an accepted connection, possibly accepted by another process (the cluster)."""
        if peer is None:
            try:
                address = sock.getpeername()
                peer = (address[0], address[1])
            except (OSError, IndexError):
                peer = None
        tune_accepted(sock)
        if self.max_connections and len(self._streams) >= self.max_connections:
            self._refuse(sock, peer)
            return
        http = HttpConnection(
            self.reactor, self, self.config.http_idle_timeout, self.config.request_timeout
        )
        config = self.config
        if config.ssl_context is None:
            stream = Stream(self.reactor, sock, http, max_buffer=config.max_write_buffer, peer=peer)
        else:  # the handshake happens here, in the worker when a cluster master accepted it
            stream = TlsStream(
                self.reactor,
                sock,
                http,
                config.ssl_context,
                handshake_timeout=config.tls_handshake_timeout,
                max_buffer=config.max_write_buffer,
                peer=peer,
            )
        http.attach(stream)
        stream.on_closed = self._stream_closed
        self._streams.add(stream)
        stream.start(initial_data)

    def _refuse(self, sock: socket.socket, peer: tuple[str, int] | None) -> None:
        """Past ``max_connections``: answer 503 and close, lingering (bounded) so the request
        the client is sending does not turn the answer into a reset. Over TLS: close at once."""
        if self.config.ssl_context is not None:
            # A 503 would need a TLS handshake first: the cost the limit is there to avoid.
            sock.close()
        else:
            linger = self._refused_lingering < MAX_REFUSED_LINGERING
            stream = Stream(self.reactor, sock, _Refused(self, linger), peer=peer)
            stream.start()
            stream.write(BUSY_RESPONSE)
            stream.close(linger=linger)
        self._refused.count(self.max_connections, self.reactor.time())

    def _refuse_session(
        self, conn: HttpConnection, request: HttpRequest, cors: list[tuple[str, str]]
    ) -> None:
        """Past ``max_sessions``: a handshake (polling or websocket) is answered 503 with
        ``Retry-After``; the sessions already open go on."""
        refusal = _TOO_MANY_SESSIONS
        conn.respond(
            refusal.status,
            [*JSON_HEADERS, ("retry-after", "1"), *cors],
            refusal.body(),
            close=request.is_websocket_upgrade,
        )
        self._sessions_refused.count(self.max_sessions, self.reactor.time())

    def count_traffic(self) -> None:
        """Count packets and bytes in ``stats`` from now on (for metrics and the Admin UI);
        websockets opened before are not counted. Off by default: it costs the hot paths."""
        self.traffic = self.stats

    def close(
        self,
        reason: DisconnectReason = DisconnectReason.SERVER_SHUTDOWN,
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        """Stop accepting, close every session with ``reason``, then close idle connections.

        Polling clients get up to ``CLOSE_GRACE`` seconds to fetch their CLOSE packet.
        ``on_closed`` runs once nothing is left open (``closed``).
        """
        if on_closed is not None:
            self._on_closed.append(on_closed)
        if self._closing:
            self._check_closed()
            return
        self._closing = True
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        for esock in list(self.sessions.values()):
            esock.close(reason)
        if self.sessions:
            # A polling client's next GET (on a keep-alive connection) fetches its CLOSE packet:
            # keep idle connections open until every session said goodbye, or the grace ends.
            self._grace_timer = self.reactor.call_later(CLOSE_GRACE, self._close_connections)
        else:
            self.reactor.call_soon(self._close_connections)

    def session_ended(self, esock: EngineSocket) -> None:
        """A session finished (called by the session itself)."""
        sessions = self.sessions
        if sessions.get(esock.sid) is esock:
            del sessions[esock.sid]
            if not sessions and self._sessions_peak >= GIVE_BACK_AFTER:
                self._sessions_peak = 0
                # A moment later: the last sessions' objects (this one is still on the stack,
                # its disconnect still queued) must be gone first.
                self.reactor.call_later(GIVE_BACK_DELAY, give_back_memory)
        if self._closing and not self.sessions:
            self._close_connections()

    def _close_connections(self) -> None:
        if self._connections_closed:
            return
        self._connections_closed = True
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        for esock in list(self.sessions.values()):
            esock.fail(DisconnectReason.SERVER_SHUTDOWN)  # never came back for its CLOSE
        for stream in list(self._streams):
            protocol = stream.protocol
            if isinstance(protocol, HttpConnection) and protocol.request is not None:
                continue  # a request still being answered (a poll of a closing session)
            stream.close()
        self._check_closed()

    def _stream_closed(self, stream: Stream) -> None:
        self._streams.discard(stream)
        if self._closing:
            self._check_closed()

    def _check_closed(self) -> None:
        if self._on_closed and self.closed:
            callbacks, self._on_closed = self._on_closed, []
            # Soon, not now: after the handlers' on_disconnect calls, queued the same way.
            for callback in callbacks:
                self.reactor.call_soon(callback)

    @property
    def closed(self) -> bool:
        """Closing and nothing left open."""
        return self._closing and not self.sessions and not self._streams

    # -- requests -------------------------------------------------------------------------------

    def _is_engine_path(self, path: str) -> bool:
        return path.startswith(self._path) or path == self._path[:-1]

    def handle_request(self, conn: HttpConnection, request: HttpRequest) -> None:
        if not self._is_engine_path(request.path):
            self._serve_app(conn, request)
            return
        origin = request.header("origin")
        is_upgrade = request.is_websocket_upgrade
        if not self._cors.allows(origin, request.header("host")):
            refusal = RequestError(ErrorCode.FORBIDDEN, "Origin not allowed")
            self.respond_error(conn, refusal, [], close=is_upgrade)
            return
        cors = self._cors.headers(origin)
        if request.method == "OPTIONS":
            requested = request.header("access-control-request-headers")
            conn.respond(204, self._cors.preflight_headers(origin, requested))
            return
        query = parse_query(request.query_string)
        try:
            info = classify_request(request.method, query, is_upgrade, self.config.transports)
            esock = None
            if info.sid is not None:
                esock = self.sessions.get(info.sid)
                check_session_request(info, esock.session.transport if esock else None)
            else:
                self._check_allowed(request)
        except RequestError as exc:
            self.respond_error(conn, exc, cors, close=is_upgrade)
            return
        if esock is None:
            self._handshake(conn, request, info, cors)
            return
        if info.is_upgrade:
            ws = self.accept_websocket(conn, request)
            if ws is not None:
                esock.begin_upgrade(ws)
            return
        # check_session_request let through only requests on the session's own transport.
        polling = esock.active_transport
        assert isinstance(polling, PollingTransport)
        if request.method == "GET":
            polling.on_poll(conn, request, cors)
        elif request.method == "POST":
            polling.on_post(conn, request, cors)
        else:
            self.respond_error(conn, RequestError(ErrorCode.BAD_REQUEST), cors)

    def _check_allowed(self, request: HttpRequest) -> None:
        hook = self.config.allow_request
        if hook is None:
            return
        try:
            verdict = hook(request)
        except Exception:
            log.exception("error in allow_request hook")
            raise RequestError(ErrorCode.BAD_REQUEST) from None
        if verdict is False or isinstance(verdict, str):
            raise RequestError(ErrorCode.FORBIDDEN, verdict or None)

    def respond_error(
        self,
        conn: HttpConnection,
        error: RequestError,
        cors: list[tuple[str, str]],
        *,
        close: bool = False,
    ) -> None:
        """The one place a refused request becomes an HTTP reply: status + JSON code."""
        log.debug("refusing request: %s", error)
        conn.respond(error.status, JSON_HEADERS + cors, error.body(), close=close)

    def _serve_app(self, conn: HttpConnection, request: HttpRequest) -> None:
        response: HttpResponse | DeferredResponse | None = None
        if self.http_handler is not None:
            try:
                response = self.http_handler(request)
            except Exception:
                log.exception("error in HTTP handler for %s %s", request.method, request.target)
                response = HttpResponse(
                    500, [("content-type", "text/plain")], b"Internal Server Error\n"
                )
        if isinstance(response, DeferredResponse):
            deferred = response
            conn.park(deferred.abandon)
            deferred.bind(lambda answer: self._respond_app(conn, request, answer))
            return
        self._respond_app(conn, request, response)

    def _respond_app(
        self, conn: HttpConnection, request: HttpRequest, response: HttpResponse | None
    ) -> None:
        if response is None:
            response = HttpResponse(404, [("content-type", "text/plain")], b"Not Found\n")
        conn.respond(
            response.status,
            list(response.headers),
            response.body,
            close=request.is_websocket_upgrade,
        )

    def _handshake(
        self,
        conn: HttpConnection,
        request: HttpRequest,
        info: EngineRequest,
        cors: list[tuple[str, str]],
    ) -> None:
        config = self.config
        if self._closing:
            self.respond_error(
                conn, RequestError(ErrorCode.BAD_REQUEST, "Server shutting down"), cors
            )
            return
        if len(self.sessions) >= (self.max_sessions or _NO_LIMIT):
            self._refuse_session(conn, request, cors)
            return
        sid = generate_sid()
        polling = info.transport is TransportName.POLLING
        upgrades: tuple[str, ...] = ()
        if polling and config.allow_upgrades and TransportName.WEBSOCKET in config.transports:
            upgrades = ("websocket",)
        open_packet = (
            "0"
            + OpenPayload(
                sid, upgrades, config.ping_interval_ms, config.ping_timeout_ms, config.max_payload
            ).to_json()
        )
        ws: WebSocketConnection | None = None
        if polling:
            body = open_packet.encode("utf-8")
            conn.respond(200, TEXT_HEADERS + cors, body)
            traffic = self.traffic
            if traffic is not None:
                traffic.packets_out += 1
                traffic.bytes_out += len(body)
        else:
            ws = self.accept_websocket(conn, request)
            if ws is None:
                return
            ws.send_text(open_packet)
        esock = EngineSocket(self, sid, request, ws)
        self.sessions[sid] = esock
        self.stats.handshakes += 1
        if len(self.sessions) > self._sessions_peak:
            self._sessions_peak = len(self.sessions)
        esock.arm_timer()
        log.debug(
            "handshake sid=%s transport=%s peer=%s", sid, info.transport, request.remote_address
        )
        try:
            self.handler.on_connect(esock)
        except Exception:
            log.exception("error in on_connect handler (sid=%s)", sid)
        if ws is not None:
            ws.start(esock.active_transport)  # type: ignore[arg-type]

    def accept_websocket(
        self, conn: HttpConnection, request: HttpRequest
    ) -> WebSocketConnection | None:
        """Answer 101 (negotiating permessage-deflate if enabled); None if the handshake is bad."""
        extensions: list[PerMessageDeflate] = []
        accepted: str | None = None
        offers = request.header("sec-websocket-extensions")
        if self.config.per_message_deflate and offers:
            for offer in offers.split(","):
                if offer.strip().split(";")[0].strip() == "permessage-deflate":
                    deflate = PerMessageDeflate()
                    answer = deflate.accept(offer.strip())
                    if answer is not None and answer is not False:
                        # accept() gives the parameters only ("" or True: none); name them.
                        params = "" if answer is True else str(answer)
                        accepted = f"permessage-deflate; {params}" if params else deflate.name
                        extensions = [deflate]
                        break
        max_message = self.config.max_payload

        stats = self.traffic

        def make(trailing: bytes) -> WebSocketConnection:
            return WebSocketConnection(
                max_message,
                extensions=list(extensions),
                trailing_data=trailing,
                stats=stats,
            )

        return conn.accept_websocket(make, accepted)
