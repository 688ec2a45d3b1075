"""The Engine.IO server: routes HTTP requests and owns the session table.

Requests to the Engine.IO path are checked (``eio/protocol/request.py``), then become a
handshake, a poll or a POST of a polling session, or a websocket (a handshake or an upgrade).
Everything else goes to the application's own HTTP routes. ``EngineSocket`` (``eio/socket.py``)
is one session; its transports are in ``eio/transports/``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from wsproto.extensions import PerMessageDeflate

from reactor import Listener, Reactor, Stream, TimerHandle, open_listening_socket, tune_accepted

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

__all__ = ["EngineIOServer", "HttpHandler"]

log = logging.getLogger(__name__)

#: An application's own HTTP routes: return a response, or None for 404.
HttpHandler = Callable[[HttpRequest], HttpResponse | None]

JSON_HEADERS = [("content-type", "application/json")]

#: Seconds a closing server waits for polling clients to fetch their CLOSE packet.
CLOSE_GRACE = 1.5


class EngineIOServer:
    """An Engine.IO v4 server on a reactor.

    Args:
        reactor: the loop it runs on.
        handler: the layer above (see ``eio.handler.Handler``).
        config: settings; see ``EngineIOConfig`` for every default.
        http_handler: serves requests outside the Engine.IO path (404 when absent or None).
    """

    def __init__(
        self,
        reactor: Reactor,
        handler: Handler,
        config: EngineIOConfig | None = None,
        *,
        http_handler: HttpHandler | None = None,
    ) -> None:
        self.reactor = reactor
        self.handler = handler
        self.config = config or EngineIOConfig()
        self.http_handler = http_handler
        self.sessions: dict[str, EngineSocket] = {}
        #: Counters (``eio/stats.py``), read by metrics and reports.
        self.stats = EngineStats()
        self._path = "/" + self.config.path.strip("/") + "/" if self.config.path.strip("/") else "/"
        self._cors = CorsPolicy(self.config.cors_allowed_origins, self.config.cors_credentials)
        self._listeners: list[Listener] = []
        self._streams: set[Stream] = set()
        self._closing = False
        self._connections_closed = False
        self._grace_timer: TimerHandle | None = None
        self._on_closed: list[Callable[[], None]] = []
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
        http = HttpConnection(
            self.reactor, self, self.config.http_idle_timeout, self.config.request_timeout
        )
        stream = Stream(
            self.reactor, sock, http, max_buffer=self.config.max_write_buffer, peer=peer
        )
        http.attach(stream)
        stream.on_closed = self._stream_closed
        self._streams.add(stream)
        stream.start(initial_data)

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
        if self.sessions.get(esock.sid) is esock:
            del self.sessions[esock.sid]
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
        response: HttpResponse | None = None
        if self.http_handler is not None:
            try:
                response = self.http_handler(request)
            except Exception:
                log.exception("error in HTTP handler for %s %s", request.method, request.target)
                response = HttpResponse(
                    500, [("content-type", "text/plain")], b"Internal Server Error\n"
                )
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
            self.stats.packets_out += 1
            self.stats.bytes_out += len(body)
        else:
            ws = self.accept_websocket(conn, request)
            if ws is None:
                return
            ws.send_text(open_packet)
        esock = EngineSocket(self, sid, request, ws)
        self.sessions[sid] = esock
        self.stats.handshakes += 1
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

        stats = self.stats

        def make(trailing: bytes) -> WebSocketConnection:
            return WebSocketConnection(
                max_message,
                extensions=list(extensions),
                trailing_data=trailing,
                stats=stats,
            )

        return conn.accept_websocket(make, accepted)
