"""The Engine.IO server: the composition root that joins sessions, transports and the reactor.

``EngineIOServer`` routes HTTP requests (handshake, poll, post, websocket, CORS preflight, the
application's own routes) and owns the session table. ``EngineSocket`` is one session as the
layer above sees it, and the glue between the sans-IO ``Session`` and the sockets carrying it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from functools import partial

from wsproto.extensions import PerMessageDeflate

from reactor import Listener, Reactor, Stream, TimerHandle, open_listening_socket, tune_accepted

from .config import EngineIOConfig
from .errors import ErrorCode, ParseError, RequestError
from .handler import Handler
from .net.http import HttpConnection, HttpRequest, HttpResponse
from .net.websocket import WebSocketConnection, frame_text
from .outbound import Outbound
from .protocol.cors import CorsPolicy
from .protocol.encoding import choose_encoding, compress
from .protocol.handshake import OpenPayload
from .protocol.packet import decode_packet
from .protocol.payload import decode_payload, encode_payload
from .protocol.request import (
    EngineRequest,
    TransportName,
    check_session_request,
    classify_request,
    parse_query,
)
from .protocol.session import (
    DisconnectReason,
    Event,
    MessageReceived,
    ProbeAnswered,
    ReadyState,
    Session,
    SessionClosed,
    UpgradeAborted,
    UpgradeCompleted,
)
from .protocol.sid import generate_sid

__all__ = ["EngineIOServer", "EngineSocket", "HttpHandler"]

log = logging.getLogger(__name__)

#: An application's own HTTP routes: return a response, or None for 404.
HttpHandler = Callable[[HttpRequest], HttpResponse | None]

TEXT_HEADERS = [("content-type", "text/plain; charset=UTF-8"), ("cache-control", "no-store")]
OK_HEADERS = [("content-type", "text/html")]
JSON_HEADERS = [("content-type", "application/json")]

#: Seconds a closing server waits for polling clients to fetch their CLOSE packet.
CLOSE_GRACE = 1.5

_OPEN = ReadyState.OPEN
_CLOSED = ReadyState.CLOSED


class _UpgradeCandidate:
    """Listens on a websocket that wants to take over a polling session (until it sends ``5``)."""

    __slots__ = ("owner",)

    def __init__(self, owner: EngineSocket) -> None:
        self.owner = owner

    def ws_text(self, ws: WebSocketConnection, text: str) -> None:
        self.owner._candidate_text(ws, text)

    def ws_binary(self, ws: WebSocketConnection, data: bytes) -> None:
        self.owner._candidate_abort(ws)

    def ws_closed(self, ws: WebSocketConnection, exc: BaseException | None) -> None:
        self.owner._candidate_closed(ws)


class EngineSocket:
    """One Engine.IO session on the server: what handlers get, and its transports' glue."""

    __slots__ = (
        "_dirty",
        "_finalized",
        "_poll",
        "_poll_encoding",
        "_poll_headers",
        "_timer",
        "_timer_when",
        "candidate",
        "data",
        "request",
        "server",
        "session",
        "sid",
        "text_handler",
        "ws",
    )

    def __init__(
        self, server: EngineIOServer, sid: str, request: HttpRequest, transport: TransportName
    ) -> None:
        config = server.config
        self.server = server
        self.sid = sid
        #: The handshake request (headers, query, peer address).
        self.request = request
        self.session = Session(
            sid,
            transport,
            now=server.reactor.time(),
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            upgrade_timeout=config.upgrade_timeout,
        )
        self.ws: WebSocketConnection | None = None
        self.candidate: WebSocketConnection | None = None
        self._poll: HttpConnection | None = None
        self._poll_headers: list[tuple[str, str]] = []
        self._poll_encoding: str | None = None
        self._dirty = False
        self._finalized = False
        self._timer: TimerHandle | None = None
        self._timer_when = 0.0
        #: Free for the layer above (Socket.IO keeps its per-connection state here).
        self.data: object = None
        #: Set by the layer above to get this session's text messages directly, instead of
        #: through ``Handler.on_message`` (one dispatch less per message).
        self.text_handler: Callable[[str], None] | None = None

    def __repr__(self) -> str:
        return f"<EngineSocket {self.sid} {self.transport} {self.session.ready_state.value}>"

    # -- the handler's API ----------------------------------------------------------------------

    @property
    def transport(self) -> str:
        """``"polling"`` or ``"websocket"``."""
        return self.session.transport.value

    @property
    def remote_address(self) -> str | None:
        peer = self.request.remote_address
        return peer[0] if peer else None

    @property
    def connected(self) -> bool:
        return self.session.ready_state is _OPEN

    @property
    def writable(self) -> bool:
        """Could a packet leave right now (used to drop volatile packets)?"""
        if self.session.ready_state is not _OPEN:
            return False
        ws = self.ws
        if ws is not None:
            stream = ws.stream
            return stream is not None and not stream.closing and stream.buffered == 0
        return self._poll is not None

    def send(self, data: str) -> None:
        """Send a text message."""
        session = self.session
        if session.ready_state is not _OPEN:
            return
        ws = self.ws
        if ws is not None:
            stream = ws.stream
            if ws.plain and stream is not None:
                stream.write(frame_text("4" + data))  # the hot path: one frame, no wsproto
            else:
                ws.send_text("4" + data)
        else:
            session.send("4" + data)
            if not self._dirty:
                self._mark_dirty()

    def send_binary(self, data: bytes) -> None:
        """Send a binary message."""
        session = self.session
        if session.ready_state is not _OPEN:
            return
        ws = self.ws
        if ws is not None:
            ws.send_binary(data)
        else:
            session.send(bytes(data))
            if not self._dirty:
                self._mark_dirty()

    def send_outbound(self, outbound: Outbound) -> None:
        """Send messages encoded once for many sessions (websocket frames shared too)."""
        session = self.session
        if session.ready_state is not _OPEN:
            return
        ws = self.ws
        if ws is not None:
            if ws.deflate:
                for item in outbound.items:
                    self._ws_send_item(ws, item)
            else:
                ws.send_frames(outbound.frames)
            return
        for item in outbound.items:
            session.send(item)
        if not self._dirty:
            self._mark_dirty()

    def close(self, reason: DisconnectReason = DisconnectReason.FORCED_CLOSE) -> None:
        """Close the session; queued packets still go out first."""
        event = self.session.close(self.server.reactor.time(), reason)
        if event is not None:
            self._handle(event)
        self._mark_dirty()

    # -- flushing and time ----------------------------------------------------------------------

    def _mark_dirty(self) -> None:
        if not self._dirty:
            self._dirty = True
            self.server.reactor.mark_dirty(self)

    def flush(self) -> None:
        """End of tick: answer a parked poll, drain the queue onto the websocket, re-arm time."""
        self._dirty = False
        if self._finalized:
            return
        session = self.session
        if self._poll is not None and session.poll_parked:
            reply = session.poll_reply()
            if reply is not None:
                self._answer_poll(reply)
        ws = self.ws
        if ws is not None and session.has_pending():
            for item in session.take_pending():
                self._ws_send_item(ws, item)
        if session.ready_state is _CLOSED:
            self._finalize()
        else:
            self._arm_timer()

    @staticmethod
    def _ws_send_item(ws: WebSocketConnection, item: str | bytes) -> None:
        if isinstance(item, str):
            ws.send_text(item)
        else:
            ws.send_binary(item)

    def _arm_timer(self) -> None:
        deadline = self.session.next_deadline()
        timer = self._timer
        if deadline is None:
            if timer is not None:
                timer.cancel()
                self._timer = None
            return
        if timer is not None:
            if self._timer_when <= deadline:
                return  # fires first; re-armed then (one timer per session, however busy)
            timer.cancel()
        self._timer = self.server.reactor.call_at(deadline, self._on_timer)
        self._timer_when = deadline

    def _on_timer(self) -> None:
        self._timer = None
        for event in self.session.handle_timeout(self.server.reactor.time()):
            self._handle(event)
        self._mark_dirty()

    # -- events from the session ----------------------------------------------------------------

    def _handle(self, event: Event) -> None:
        if isinstance(event, MessageReceived):
            data = event.data
            if isinstance(data, str):
                self._deliver_text(data)
            else:
                self._deliver_binary(data)
        elif isinstance(event, SessionClosed):
            self._mark_dirty()
            # Later, not now: a send that failed mid-broadcast must not change the rooms the
            # broadcast is walking.
            self.server.reactor.call_soon(self._notify_closed, event.reason)
        elif isinstance(event, UpgradeAborted):
            candidate, self.candidate = self.candidate, None
            if candidate is not None:
                candidate.close()

    def _deliver_text(self, data: str) -> None:
        try:
            if self.text_handler is not None:
                self.text_handler(data)
            else:
                self.server.handler.on_message(self, data)
        except Exception:
            log.exception("error in on_message handler (sid=%s)", self.sid)

    def _deliver_binary(self, data: bytes) -> None:
        try:
            self.server.handler.on_binary(self, data)
        except Exception:
            log.exception("error in on_binary handler (sid=%s)", self.sid)

    def _notify_closed(self, reason: DisconnectReason) -> None:
        log.debug("session closed sid=%s reason=%s", self.sid, reason)
        try:
            self.server.handler.on_disconnect(self, reason)
        except Exception:
            log.exception("error in on_disconnect handler (sid=%s)", self.sid)

    def _fail(self, reason: DisconnectReason) -> None:
        event = self.session.fail(reason)
        if event is not None:
            self._handle(event)
        self._mark_dirty()

    def _finalize(self) -> None:
        self._finalized = True
        server = self.server
        if server.sessions.get(self.sid) is self:
            del server.sessions[self.sid]
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._poll is not None:
            # A poll parked but never answered (the session closed between polls): release it.
            conn, self._poll = self._poll, None
            conn.respond(200, TEXT_HEADERS + self._poll_headers, b"1")
        if self.ws is not None:
            self.ws.close(1000)
        if self.candidate is not None:
            self.candidate.close(1000)
            self.candidate = None

    # -- polling --------------------------------------------------------------------------------

    def on_poll(
        self, conn: HttpConnection, request: HttpRequest, cors: list[tuple[str, str]]
    ) -> None:
        event = self.session.open_poll()
        if event is not None:
            self.server.respond_error(conn, RequestError(ErrorCode.BAD_REQUEST), cors)
            self._handle(event)
            return
        self._poll = conn
        self._poll_headers = cors
        self._poll_encoding = (
            choose_encoding(request.header("accept-encoding"))
            if self.server.config.http_compression
            else None
        )
        conn.park(self._poll_aborted)
        self._mark_dirty()

    def _answer_poll(self, items: list[str | bytes]) -> None:
        conn, self._poll = self._poll, None
        assert conn is not None
        body = encode_payload(items).encode("utf-8")
        headers = TEXT_HEADERS + self._poll_headers
        encoding = self._poll_encoding
        if encoding is not None and len(body) >= self.server.config.compression_threshold:
            body = compress(body, encoding)
            headers = [*headers, ("content-encoding", encoding)]
        conn.respond(200, headers, body)

    def _poll_aborted(self) -> None:
        self._poll = None
        event = self.session.poll_aborted()
        if event is not None:
            self._handle(event)
        self._mark_dirty()

    def on_post(
        self, conn: HttpConnection, request: HttpRequest, cors: list[tuple[str, str]]
    ) -> None:
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type == "application/octet-stream":
            # Engine.IO v4 sends binary as base64 text; a binary body is a v3 client or garbage.
            self.server.respond_error(conn, RequestError(ErrorCode.BAD_REQUEST), cors)
            self._fail(DisconnectReason.TRANSPORT_ERROR)
            return
        event = self.session.open_post()
        if event is not None:
            self.server.respond_error(conn, RequestError(ErrorCode.BAD_REQUEST), cors)
            self._handle(event)
            return
        conn.park(self._post_aborted)
        conn.read_body(
            self.server.config.max_payload,
            partial(self._post_body, conn, cors),
            partial(self._post_too_large, conn, cors),
        )

    def _post_body(self, conn: HttpConnection, cors: list[tuple[str, str]], body: bytes) -> None:
        session = self.session
        session.close_post()
        error: ParseError | None = None
        try:
            packets = decode_payload(body)
        except ParseError as exc:
            packets, error = exc.decoded, exc
        now = self.server.reactor.time()
        for packet in packets:
            event = session.receive(packet, now)
            if event is not None:
                self._handle(event)
        if error is not None:
            log.debug("parse error on POST sid=%s: %s", self.sid, error)
            self._fail(DisconnectReason.PARSE_ERROR)
            self.server.respond_error(conn, RequestError(ErrorCode.BAD_REQUEST), cors)
        else:
            conn.respond(200, OK_HEADERS + cors, b"ok")
        self._mark_dirty()

    def _post_too_large(self, conn: HttpConnection, cors: list[tuple[str, str]]) -> None:
        self.session.close_post()
        error = RequestError(ErrorCode.BAD_REQUEST, "Payload too large", status=413)
        self.server.respond_error(conn, error, cors, close=True)

    def _post_aborted(self) -> None:
        self.session.close_post()
        self._fail(DisconnectReason.TRANSPORT_ERROR)

    # -- websocket ------------------------------------------------------------------------------

    def on_websocket(self, conn: HttpConnection, request: HttpRequest) -> None:
        """A websocket with this session's sid: the upgrade from polling begins (or is refused)."""
        ws = self.server.accept_websocket(conn, request)
        if ws is None:
            return
        if not self.session.begin_upgrade(self.server.reactor.time()):
            ws.close()  # already upgraded or upgrading: the reference server closes the newcomer
            return
        self.candidate = ws
        ws.start(_UpgradeCandidate(self))
        self._mark_dirty()

    def ws_text(self, ws: WebSocketConnection, text: str) -> None:
        session = self.session
        if ws is not self.ws:
            return
        if text[:1] == "4" and session.ready_state is _OPEN:
            # The hot path: a message on an open session, straight to the layer above.
            handler = self.text_handler
            if handler is None:
                self._deliver_text(text[1:])
                return
            try:
                handler(text[1:])
            except Exception:
                log.exception("error in the text handler (sid=%s)", self.sid)
            return
        try:
            packet = decode_packet(text)
        except ParseError:
            self._fail(DisconnectReason.PARSE_ERROR)
            return
        event = session.receive(packet, self.server.reactor.time())
        if event is not None:
            self._handle(event)

    def ws_binary(self, ws: WebSocketConnection, data: bytes) -> None:
        if ws is self.ws and self.session.ready_state is _OPEN:
            self._deliver_binary(data)

    def ws_closed(self, ws: WebSocketConnection, exc: BaseException | None) -> None:
        if ws is not self.ws:
            return
        if exc is not None:
            log.debug("websocket error sid=%s: %s", self.sid, exc)
        self._fail(
            DisconnectReason.TRANSPORT_CLOSE if exc is None else DisconnectReason.TRANSPORT_ERROR
        )

    def _candidate_text(self, ws: WebSocketConnection, text: str) -> None:
        if ws is not self.candidate:
            return
        try:
            packet = decode_packet(text)
        except ParseError:
            self._candidate_abort(ws)
            return
        event = self.session.receive_on_candidate(packet)
        if isinstance(event, ProbeAnswered):
            ws.send_text(event.reply)
            self._mark_dirty()  # a parked poll is now answered with a noop
        elif type(event) is UpgradeCompleted:
            self.candidate = None
            self.ws = ws
            ws.listener = self
            for item in self.session.take_pending():
                self._ws_send_item(ws, item)
            self._mark_dirty()
        elif type(event) is UpgradeAborted:
            self._handle(event)

    def _candidate_abort(self, ws: WebSocketConnection) -> None:
        if ws is self.candidate:
            self.session.abort_upgrade()
            self._handle(UpgradeAborted())

    def _candidate_closed(self, ws: WebSocketConnection) -> None:
        if ws is self.candidate:
            self.candidate = None
            self.session.abort_upgrade()


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
        self._path = "/" + self.config.path.strip("/") + "/" if self.config.path.strip("/") else "/"
        self._cors = CorsPolicy(self.config.cors_allowed_origins, self.config.cors_credentials)
        self._listeners: list[Listener] = []
        self._streams: set[Stream] = set()
        self._closing = False

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
        http = HttpConnection(self.reactor, self, self.config.http_idle_timeout)
        stream = Stream(
            self.reactor, sock, http, max_buffer=self.config.max_write_buffer, peer=peer
        )
        http.attach(stream)
        stream.on_closed = self._streams.discard
        self._streams.add(stream)
        stream.start(initial_data)

    def close(self, reason: DisconnectReason = DisconnectReason.SERVER_SHUTDOWN) -> None:
        """Stop accepting, close every session with ``reason``, then close idle connections."""
        if self._closing:
            return
        self._closing = True
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        for esock in list(self.sessions.values()):
            esock.close(reason)
        self.reactor.call_soon(self._close_connections, self.reactor.time() + CLOSE_GRACE)

    def _close_connections(self, deadline: float) -> None:
        if self.sessions and self.reactor.time() < deadline:
            # A polling client's next GET (on a keep-alive connection) fetches its CLOSE packet:
            # keep idle connections open until every session said goodbye, or the grace ends.
            self.reactor.call_later(0.02, self._close_connections, deadline)
            return
        for esock in list(self.sessions.values()):
            esock._fail(DisconnectReason.SERVER_SHUTDOWN)  # never came back for its CLOSE
        for stream in list(self._streams):
            protocol = stream.protocol
            if isinstance(protocol, HttpConnection) and protocol.request is not None:
                continue  # a request still being answered (a poll of a closing session)
            stream.close()

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
        elif info.is_upgrade:
            esock.on_websocket(conn, request)
        elif request.method == "GET":
            esock.on_poll(conn, request, cors)
        elif request.method == "POST":
            esock.on_post(conn, request, cors)
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
        sid = generate_sid(config.sid_tag)
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
        esock = EngineSocket(self, sid, request, info.transport)
        ws: WebSocketConnection | None = None
        if polling:
            conn.respond(200, TEXT_HEADERS + cors, open_packet.encode("utf-8"))
        else:
            ws = self.accept_websocket(conn, request)
            if ws is None:
                return
            esock.ws = ws
            ws.send_text(open_packet)
        self.sessions[sid] = esock
        esock._arm_timer()
        log.debug(
            "handshake sid=%s transport=%s peer=%s", sid, info.transport, request.remote_address
        )
        try:
            self.handler.on_connect(esock)
        except Exception:
            log.exception("error in on_connect handler (sid=%s)", sid)
        if ws is not None:
            ws.start(esock)

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

        def make(trailing: bytes) -> WebSocketConnection:
            return WebSocketConnection(
                max_message,
                extensions=list(extensions),
                trailing_data=trailing,
            )

        return conn.accept_websocket(make, accepted)
