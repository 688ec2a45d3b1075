"""Socket.IO v5 on the ``eio`` Engine.IO server: namespaces, events, acks, binary, rooms.

This module is the package's whole public surface: the layers above import only from here.
"""

from __future__ import annotations

from .adapter import (
    Adapter,
    BroadcastFlags,
    BroadcastOptions,
    ClientCountCallback,
    InMemoryAdapter,
    RestoreCallback,
    outbound_of,
    recoverable,
)
from .broadcast import BroadcastOperator
from .client import ClientSocket, ConnectError, Manager, connect
from .errors import AckTimeoutError, ConnectRefusedError, PacketError, SocketIOError
from .namespace import Namespace, ParentNamespace
from .protocol.binary import deconstruct, reconstruct
from .protocol.decoder import decode_messages
from .protocol.encoder import encode_messages
from .protocol.packet import Packet, PacketType
from .protocol.parser import JSON_PARSER, PARSER_NAMES, Parser, parser_named
from .protocol.recovery import RecoveryOptions, Restored, Session
from .reasons import DisconnectReason
from .server import Server
from .socket import Handshake, Socket

__all__ = [
    "JSON_PARSER",
    "PARSER_NAMES",
    "AckTimeoutError",
    "Adapter",
    "BroadcastFlags",
    "BroadcastOperator",
    "BroadcastOptions",
    "ClientCountCallback",
    "ClientSocket",
    "ConnectError",
    "ConnectRefusedError",
    "DisconnectReason",
    "Handshake",
    "InMemoryAdapter",
    "Manager",
    "Namespace",
    "Packet",
    "PacketError",
    "PacketType",
    "ParentNamespace",
    "Parser",
    "RecoveryOptions",
    "RestoreCallback",
    "Restored",
    "Server",
    "Session",
    "Socket",
    "SocketIOError",
    "connect",
    "decode_messages",
    "deconstruct",
    "encode_messages",
    "outbound_of",
    "parser_named",
    "reconstruct",
    "recoverable",
]
