"""The Socket.IO server: an Engine.IO handler that routes packets to namespaces.

io = sio.Server(cors_allowed_origins="*")

@io.on("connection")
def on_connection(socket):
    @socket.on("chat message")
    def chat(user, message):
        socket.broadcast.emit("chat message", f"{message} from {user}")

io.listen("127.0.0.1", 3000)
io.run()
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from eio import (
    AllowRequest,
    EngineIOConfig,
    EngineIOServer,
    EngineSocket,
    HttpHandler,
    OriginPolicy,
    TransportName,
)
from eio import DisconnectReason as EngineReason
from reactor import DEFAULT_MAX_BUFFER, DEFAULT_TLS_HANDSHAKE_TIMEOUT, Reactor

from .adapter import Adapter, InMemoryAdapter
from .broadcast import BroadcastOperator
from .connection import Connection
from .namespace import Middleware, Namespace, ParentNamespace
from .protocol.packet import MAX_ACK_ID_DIGITS, MAX_ATTACHMENTS, MAX_DEPTH, decode_text_with
from .protocol.parser import JSON_PARSER, Parser, parser_named
from .protocol.recovery import RecoveryOptions
from .socket import Socket
from .stats import ServerStats

__all__ = ["Server"]

log = logging.getLogger(__name__)

AdapterFactory = Callable[[Namespace], Adapter]
F = TypeVar("F", bound=Callable[..., Any])
#: Engine.IO's defaults (the one home of the limits' default values).
_ENGINE = EngineIOConfig()


class Server:
    """A Socket.IO v5 server. Every option's default is the reference server's.

    Args:
        reactor: the loop to run on (a new one if omitted).
        path: URL path (``/socket.io/``).
        ping_interval, ping_timeout: heartbeat, in seconds (25, 20).
        upgrade_timeout: seconds a websocket upgrade may take (10).
        max_http_buffer_size: largest message or HTTP body, in bytes (1e6).
        transports: allowed transports (polling and websocket).
        allow_upgrades: offer polling clients the websocket upgrade (yes).
        http_compression: gzip/deflate large polling responses (yes).
        per_message_deflate: websocket compression (no).
        cors_allowed_origins: None (same origin only), ``"*"``, a list, or a predicate.
        cors_credentials: allow credentials for allowed origins (yes).
        allow_request: a hook that may refuse handshakes (see ``EngineIOConfig``).
        connect_timeout: seconds a client has to join a namespace before it is closed (45).
        max_attachments: binary attachments a packet may announce (10).
        adapter: builds each namespace's adapter (in-memory).
        http_handler: serves the application's plain HTTP routes (404 otherwise).
        max_write_buffer: bytes a slow client may leave unread before it is dropped (4 MiB).
        http_idle_timeout: seconds an HTTP connection may wait for a request (its head) or
            idle between keep-alive requests before it is closed (60; 0: never).
        request_timeout: seconds an HTTP request may take to arrive whole, body included,
            before it is answered 408 (300; 0: never).
        max_decode_packets: packets one polling POST may carry (256; past it: 400).
        max_poll_packets: packets in one polling response; the rest waits for the next (16).
        max_poll_queue: packets a polling client may leave waiting before it is closed as a
            slow consumer (128).
        max_depth: JSON nesting of a packet's payload (128, the most; only lowered).
        max_ack_id_digits: digits of an acknowledgement id (15, the most; only lowered).
        max_connections: open TCP connections at once; one more is answered 503 and closed
            (None: the fd limit minus a reserve; 0: no limit). Per process: per worker.
        max_sessions: Engine.IO sessions at once (a polling client keeps one between its
            requests); one more handshake is answered 503 (None: ``max_connections``; 0: no
            limit). Per process: per worker.
        connection_state_recovery: off (None, the default, as in the reference server), or a
            ``RecoveryOptions`` (``True``: its defaults, a 2 min window): a client that lost its
            connection gets its socket back (same id, rooms and ``data``) with the events it
            missed. Every recoverable event then carries its offset as a last argument.
        certfile, keyfile: serve https/wss with this certificate chain and private key (PEM;
            the key may be in ``certfile``). Or ``ssl_context``: a ready server context.
            Default: plain http/ws.
        tls_handshake_timeout: seconds a TLS handshake may take (10; Node's 120, nginx's 60).

    Raises:
        reactor.TlsConfigError: ``certfile`` or ``keyfile`` cannot be loaded (missing,
            unreadable, or the key does not match the certificate).
        parser: how packets are encoded: ``"json"`` (Socket.IO's own, the default) or
            ``"msgpack"`` (``socket.io-msgpack-parser``'s; needs ``sio-chat[msgpack]``), or a
            ``sio.Parser``. Every client must use the same one.
    """

    def __init__(
        self,
        *,
        reactor: Reactor | None = None,
        path: str = "/socket.io/",
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        transports: Iterable[str] = ("polling", "websocket"),
        allow_upgrades: bool = True,
        http_compression: bool = True,
        per_message_deflate: bool = False,
        cors_allowed_origins: OriginPolicy = None,
        cors_credentials: bool = True,
        allow_request: AllowRequest | None = None,
        connect_timeout: float = 45.0,
        max_attachments: int = MAX_ATTACHMENTS,
        adapter: AdapterFactory = InMemoryAdapter,
        http_handler: HttpHandler | None = None,
        max_write_buffer: int = DEFAULT_MAX_BUFFER,
        connection_state_recovery: RecoveryOptions | bool | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        tls_handshake_timeout: float = DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        http_idle_timeout: float = _ENGINE.http_idle_timeout,
        request_timeout: float = _ENGINE.request_timeout,
        max_decode_packets: int = _ENGINE.max_decode_packets,
        max_poll_packets: int = _ENGINE.max_poll_packets,
        max_poll_queue: int = _ENGINE.max_poll_queue,
        max_depth: int = MAX_DEPTH,
        max_ack_id_digits: int = MAX_ACK_ID_DIGITS,
        max_connections: int | None = None,
        max_sessions: int | None = None,
        parser: str | Parser = "json",
    ) -> None:
        #: The packet codec of every connection (``sio.protocol.parser``).
        self.parser = parser_named(parser)
        #: ``decode_text`` with this server's limits (ValueError for a limit past the most).
        self.decode_packet_text = decode_text_with(max_attachments, max_depth, max_ack_id_digits)
        self.reactor = reactor or Reactor()
        #: Connection state recovery's options; None when it is off.
        self.recovery: RecoveryOptions | None = None
        if isinstance(connection_state_recovery, RecoveryOptions):
            self.recovery = connection_state_recovery
        elif connection_state_recovery:
            self.recovery = RecoveryOptions()
        self.connect_timeout = connect_timeout
        self.max_attachments = max_attachments
        self.max_depth = max_depth
        self.max_ack_id_digits = max_ack_id_digits
        self.adapter_factory = adapter
        #: Counters (``sio/stats.py``), read by metrics and reports.
        self.stats = ServerStats()
        config = EngineIOConfig(
            path=path,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            upgrade_timeout=upgrade_timeout,
            max_payload=max_http_buffer_size,
            transports=tuple(TransportName(t) for t in transports),
            allow_upgrades=allow_upgrades,
            http_compression=http_compression,
            per_message_deflate=per_message_deflate,
            cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials,
            allow_request=allow_request,
            max_write_buffer=max_write_buffer,
            ssl_context=ssl_context,
            tls_handshake_timeout=tls_handshake_timeout,
            http_idle_timeout=http_idle_timeout,
            request_timeout=request_timeout,
            max_decode_packets=max_decode_packets,
            max_poll_packets=max_poll_packets,
            max_poll_queue=max_poll_queue,
            max_connections=max_connections,
            max_sessions=max_sessions,
        )
        self.eio = EngineIOServer(
            self.reactor,
            self,
            config,
            http_handler=http_handler,
            certfile=certfile,
            keyfile=keyfile,
        )
        self._nsps: dict[str, Namespace] = {}
        self._parents: list[ParentNamespace] = []
        #: ``listener(nsp)`` for every namespace made from now on (dynamic children too).
        self.namespace_listeners: list[Callable[[Namespace], None]] = []
        #: The main namespace ``/``.
        self.sockets = self.of("/")

    # -- namespaces -----------------------------------------------------------------------------

    def of(self, name: str | re.Pattern[str] | Callable[[str, dict[str, Any]], bool]) -> Namespace:
        """The namespace ``name`` (created on first use); a regex or a predicate
        ``(name, auth) -> bool`` gives a parent of dynamic namespaces."""
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            nsp = self._nsps.get(name)
            if nsp is None:
                nsp = self._nsps[name] = Namespace(self, name)
            return nsp
        parent = ParentNamespace(self, name)
        self._parents.append(parent)
        return parent

    @property
    def namespaces(self) -> dict[str, Namespace]:
        return dict(self._nsps)

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F) -> F: ...

    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """``connection`` handlers of the main namespace (usable as a decorator)."""
        if handler is None:
            return self.sockets.on(event)
        return self.sockets.on(event, handler)

    @overload
    def on_event(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on_event(self, event: str, handler: F) -> F: ...

    def on_event(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """A handler of ``event`` for every socket of the main namespace:
        ``handler(socket, *args)`` (see ``Namespace.on_event``)."""
        if handler is None:
            return self.sockets.on_event(event)
        return self.sockets.on_event(event, handler)

    def use(self, middleware: Middleware) -> Middleware:
        """A connection middleware on the main namespace."""
        return self.sockets.use(middleware)

    # -- broadcasting on the main namespace -----------------------------------------------------

    def emit(self, event: str, *args: Any) -> None:
        self.sockets.emit(event, *args)

    send = emit

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.sockets.to(rooms)

    in_ = to

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.sockets.except_(rooms)

    @property
    def local(self) -> BroadcastOperator:
        return self.sockets.local

    def timeout(self, seconds: float) -> BroadcastOperator:
        """``io.timeout(5).emit("x", callback=cb)``: every client's acknowledgement, or a
        timeout error (see ``BroadcastOperator.emit``)."""
        return self.sockets.timeout(seconds)

    @property
    def volatile(self) -> BroadcastOperator:
        return self.sockets.volatile

    def fetch_sockets(
        self, callback: Callable[[list[Any], BaseException | None], None] | None = None
    ) -> list[Socket] | None:
        return self.sockets.fetch_sockets(callback)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        self.sockets.sockets_join(rooms)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        self.sockets.sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        self.sockets.disconnect_sockets(close)

    def server_side_emit(
        self,
        event: str,
        *args: Any,
        callback: Callable[[BaseException | None, list[Any]], None] | None = None,
    ) -> None:
        """An event for the other servers' ``io.on(event)`` handlers (see the cluster)."""
        self.sockets.server_side_emit(event, *args, callback=callback)

    # -- running --------------------------------------------------------------------------------

    def listen(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on ``host:port``; returns the bound address. ``run()`` serves."""
        return self.eio.listen(host, port)

    def run(self) -> None:
        """Run the reactor until ``stop()`` (from any thread) or ``close()`` finishes."""
        self.reactor.run()

    def close(self, on_closed: Callable[[], None] | None = None) -> None:
        """Stop accepting; every socket leaves with "server shutting down". ``on_closed`` runs
        once every connection is closed (``closed``)."""
        for nsp in list(self._nsps.values()):
            nsp.adapter.close()
        self.eio.close(EngineReason.SERVER_SHUTDOWN, on_closed)

    @property
    def closed(self) -> bool:
        return self.eio.closed

    def namespace_for(self, name: str, auth: Any) -> Namespace | None:
        """The namespace a CONNECT names: an existing one, or a new child of the first dynamic
        parent that matches; None if there is none."""
        nsp = self._nsps.get(name)
        if nsp is None:
            for parent in self._parents:
                if parent.matches(name, auth):
                    nsp = parent.children.get(name) or parent.create_child(name)
                    self._nsps[name] = nsp
                    break
        return nsp

    # -- the Engine.IO handler: Socket.IO is one more Engine.IO application -------------------

    def on_connect(self, socket: EngineSocket) -> None:
        connection = Connection(self, socket)
        socket.data = connection
        if self.parser is JSON_PARSER:
            socket.text_handler = connection.on_text
        else:  # no fast path: the parser's decoder takes (or refuses) the text
            socket.text_handler = connection.on_other_text

    def on_message(self, socket: EngineSocket, data: str) -> None:
        connection = socket.data
        assert isinstance(connection, Connection)
        if self.parser is JSON_PARSER:
            connection.on_text(data)
        else:
            connection.on_other_text(data)

    def on_binary(self, socket: EngineSocket, data: bytes) -> None:
        connection = socket.data
        assert isinstance(connection, Connection)
        connection.on_binary(data)

    def on_disconnect(self, socket: EngineSocket, reason: EngineReason) -> None:
        connection = socket.data
        if isinstance(connection, Connection):
            connection.on_engine_closed(reason)
