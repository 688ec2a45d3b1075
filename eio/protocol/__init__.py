"""Sans-IO Engine.IO v4: codecs and state machines. No sockets, no clock, no logging here.

This module is the public sans-IO API of the package (``eio`` is the public I/O one).
"""

from __future__ import annotations

from .packet import Packet, PacketType, decode_packet
from .payload import SEPARATOR, decode_payload, encode_payload
from .session import DisconnectReason, Session

__all__ = [
    "SEPARATOR",
    "DisconnectReason",
    "Packet",
    "PacketType",
    "Session",
    "decode_packet",
    "decode_payload",
    "encode_payload",
]
