"""The bottom layer: a single-threaded selectors reactor and the sockets it drives.

Everything above (Engine.IO, Socket.IO, the cluster, the CLI) runs on one ``Reactor`` per process
and imports only what this module exports. It knows nothing of HTTP or Engine.IO.
"""

from __future__ import annotations

from .alarm import Alarmed
from .clock import Clock, MonotonicClock
from .connector import Connector, ResolveFunction
from .lag import LAG_BUCKETS, LagHistogram, LoopLagMonitor
from .listener import Listener, open_listening_socket, tune_accepted
from .loop import Flushable, IOHandler, Reactor, raise_fd_limit
from .stream import DEFAULT_MAX_BUFFER, SlowConsumerError, Stream, StreamProtocol
from .timers import TimerHandle, TimerHeap
from .tls import (
    DEFAULT_TLS_HANDSHAKE_TIMEOUT,
    TlsConfigError,
    TlsError,
    TlsHandshakeTimeout,
    TlsStream,
    client_tls_context,
    server_tls_context,
)

__all__ = [
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_TLS_HANDSHAKE_TIMEOUT",
    "LAG_BUCKETS",
    "Alarmed",
    "Clock",
    "Connector",
    "Flushable",
    "IOHandler",
    "LagHistogram",
    "Listener",
    "LoopLagMonitor",
    "MonotonicClock",
    "Reactor",
    "ResolveFunction",
    "SlowConsumerError",
    "Stream",
    "StreamProtocol",
    "TimerHandle",
    "TimerHeap",
    "TlsConfigError",
    "TlsError",
    "TlsHandshakeTimeout",
    "TlsStream",
    "client_tls_context",
    "open_listening_socket",
    "raise_fd_limit",
    "server_tls_context",
    "tune_accepted",
]
