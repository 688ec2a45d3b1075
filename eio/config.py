"""Engine.IO server settings. Defaults are the reference server's unless said otherwise."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reactor import DEFAULT_MAX_BUFFER, DEFAULT_TLS_HANDSHAKE_TIMEOUT

from .net.http import DEFAULT_IDLE_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, HttpRequest
from .protocol.request import TransportName

__all__ = ["AllowRequest", "EngineIOConfig", "OriginPolicy"]

#: ``None``: same origin only; ``"*"``: any origin; a list of origins; or a predicate on the origin.
OriginPolicy = None | str | Sequence[str] | Callable[[str], bool]

#: Called with the handshake request; return ``None``/``True`` to accept it, or ``False`` or a
#: message to refuse it with 403 ``{"code":4,"message":...}``.
AllowRequest = Callable[[HttpRequest], bool | str | None]


@dataclass(frozen=True)
class EngineIOConfig:
    #: URL path of the Engine.IO endpoint (Socket.IO mounts it at ``/socket.io/``).
    path: str = "/engine.io/"
    #: Seconds between two server pings (25 s).
    ping_interval: float = 25.0
    #: Seconds the client has to answer a ping with a pong (20 s).
    ping_timeout: float = 20.0
    #: Seconds a websocket may take to complete the upgrade from polling (10 s).
    upgrade_timeout: float = 10.0
    #: Largest HTTP body and websocket message accepted, in bytes (``maxHttpBufferSize``, 1e6).
    max_payload: int = 1_000_000
    #: Transports clients may use.
    transports: tuple[TransportName, ...] = (TransportName.POLLING, TransportName.WEBSOCKET)
    #: Offer the websocket upgrade to polling clients.
    allow_upgrades: bool = True
    #: gzip/deflate polling responses of at least ``compression_threshold`` bytes when the client
    #: accepts it (on, 1024 bytes).
    http_compression: bool = True
    compression_threshold: int = 1024
    #: Negotiate permessage-deflate on websockets (off, as in the reference server).
    per_message_deflate: bool = False
    #: Origins allowed for cross-origin requests and websocket upgrades (default: same origin).
    cors_allowed_origins: OriginPolicy = None
    #: Send ``Access-Control-Allow-Credentials: true`` to allowed origins (on).
    cors_credentials: bool = True
    #: A hook that may refuse handshakes (403, code 4).
    allow_request: AllowRequest | None = None
    #: Bytes a connection may leave unread before it is closed as a slow consumer (4 MiB).
    max_write_buffer: int = DEFAULT_MAX_BUFFER
    #: Seconds an HTTP connection may wait for a request, or idle between keep-alive requests,
    #: before it is closed (60 s, as node's headersTimeout). 0: never.
    http_idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    #: Seconds an HTTP request may take to arrive whole (its body included) before it is answered
    #: 408 and closed (300 s, as node's requestTimeout). 0: never.
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    #: Packets in one polling response at most; the rest waits for the next poll (16: a
    #: python-engineio client drops a larger payload).
    max_poll_packets: int = 16
    #: Packets a polling session may have waiting for a GET before it is closed as a slow
    #: consumer, "transport error" (128, socketioxide's ``max_buffer_size``).
    max_poll_queue: int = 128
    #: Packets one polling POST may carry; past it: 400 and the session closes, "parse error".
    #: 256, not python-engineio's 16: socket.io-client sends its whole write buffer in one POST
    #: (a burst of emits while a POST is in flight), so a legitimate client can exceed 16.
    max_decode_packets: int = 256
    #: Serve TLS (https, wss) with this server context (None: plain TCP). See
    #: ``reactor.server_tls_context`` to make one from a certificate and key file.
    ssl_context: ssl.SSLContext | None = None
    #: Seconds a TLS handshake may take before the connection is dropped (10 s; Node's
    #: ``handshakeTimeout`` is 120 s, nginx's ``ssl_handshake_timeout`` 60 s). 0: no limit.
    tls_handshake_timeout: float = DEFAULT_TLS_HANDSHAKE_TIMEOUT
    #: Open connections (TCP: HTTP, polling, websocket) the server keeps at once; one more is
    #: answered 503 and closed. ``None``: the fd limit (RLIMIT_NOFILE) minus a reserve
    #: (``eio.server.FD_RESERVE``), as read when the server starts. 0: no limit.
    max_connections: int | None = None
    #: Sessions the server keeps at once (a polling client holds one between its requests,
    #: without a connection, until its heartbeat ends it); one more handshake is answered 503.
    #: ``None``: the same as ``max_connections``. 0: no limit.
    max_sessions: int | None = None

    @property
    def ping_interval_ms(self) -> int:
        return round(self.ping_interval * 1000)

    @property
    def ping_timeout_ms(self) -> int:
        return round(self.ping_timeout * 1000)
