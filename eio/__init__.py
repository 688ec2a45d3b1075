"""Engine.IO v4, written from the protocol: sans-IO codecs and session, on the reactor.

This module is the package's whole public surface: the layers above import only from here.
"""

from __future__ import annotations

from .client import ClientListener, ClientState, EngineClient, EngineClientError
from .config import AllowRequest, EngineIOConfig, OriginPolicy
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
from .protocol.request import TransportName, parse_query
from .protocol.session import DisconnectReason
from .protocol.sid import generate_sid
from .server import FD_RESERVE, DeferredResponse, EngineIOServer, HttpHandler
from .socket import EngineSocket

__all__ = [
    "FD_RESERVE",
    "AllowRequest",
    "ClientListener",
    "ClientState",
    "DeferredResponse",
    "DisconnectReason",
    "EngineClient",
    "EngineClientError",
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
    "OriginPolicy",
    "Outbound",
    "Packet",
    "PacketType",
    "ParseError",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestError",
    "TransportName",
    "generate_sid",
    "parse_query",
]
