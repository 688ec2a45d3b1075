"""Engine.IO v4 packets: ``<type>[<data>]``; binary messages travel as raw bytes.

Over websocket every packet is one frame: text packets as text frames, binary messages as binary
frames. Over HTTP long-polling packets are joined into payloads (see ``payload.py``), where binary
messages are written ``b<base64>``.
"""

from __future__ import annotations

import binascii
from enum import IntEnum
from typing import NamedTuple

from ..errors import ParseError

__all__ = ["Packet", "PacketType", "decode_packet"]


class PacketType(IntEnum):
    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


class Packet(NamedTuple):
    """One Engine.IO packet. ``data`` is ``bytes`` only for binary messages."""

    type: PacketType
    data: str | bytes = ""


_TYPE_BY_CHAR = {str(int(t)): t for t in PacketType}


def decode_packet(encoded: str | bytes) -> Packet:
    """Decode one packet: a text frame or payload element (``str``) or a binary frame (``bytes``).

    Raises:
        ParseError: empty input, an unknown packet type, or bad base64 after ``b``.
    """
    if not isinstance(encoded, str):
        return Packet(PacketType.MESSAGE, bytes(encoded))
    packet_type = _TYPE_BY_CHAR.get(encoded[:1])
    if packet_type is not None:
        return Packet(packet_type, encoded[1:])
    if encoded[:1] == "b":
        try:
            return Packet(PacketType.MESSAGE, binascii.a2b_base64(encoded[1:], strict_mode=True))
        except (binascii.Error, ValueError) as exc:
            raise ParseError("invalid base64 binary packet") from exc
    raise ParseError(f"invalid packet type {encoded[:1]!r}")
