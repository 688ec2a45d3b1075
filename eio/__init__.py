"""Engine.IO v4, written from the protocol: sans-IO codecs and session, on a selectors reactor."""

from __future__ import annotations

from .config import EngineIOConfig
from .errors import (
    EngineIOError,
    ErrorCode,
    LocalProtocolError,
    ParseError,
    ProtocolError,
    RemoteProtocolError,
    RequestError,
)
from .handler import Handler
from .net.http import HttpRequest, HttpResponse
from .outbound import Outbound
from .protocol.packet import Packet, PacketType
from .protocol.request import TransportName
from .protocol.session import DisconnectReason
from .server import EngineIOServer, EngineSocket, HttpHandler

__all__ = [
    "DisconnectReason",
    "EngineIOConfig",
    "EngineIOError",
    "EngineIOServer",
    "EngineSocket",
    "ErrorCode",
    "Handler",
    "HttpHandler",
    "HttpRequest",
    "HttpResponse",
    "LocalProtocolError",
    "Outbound",
    "Packet",
    "PacketType",
    "ParseError",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestError",
    "TransportName",
]
