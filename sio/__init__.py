"""Socket.IO v5 on the ``eio`` Engine.IO server: namespaces, events, acks, binary, rooms."""

from __future__ import annotations

from .adapter import Adapter, BroadcastFlags, BroadcastOptions, InMemoryAdapter
from .broadcast import BroadcastOperator
from .errors import AckTimeoutError, ConnectRefusedError, PacketError, SocketIOError
from .namespace import Namespace, ParentNamespace
from .reasons import DisconnectReason
from .server import Server
from .socket import Handshake, Socket

__all__ = [
    "AckTimeoutError",
    "Adapter",
    "BroadcastFlags",
    "BroadcastOperator",
    "BroadcastOptions",
    "ConnectRefusedError",
    "DisconnectReason",
    "Handshake",
    "InMemoryAdapter",
    "Namespace",
    "PacketError",
    "ParentNamespace",
    "Server",
    "Socket",
    "SocketIOError",
]
