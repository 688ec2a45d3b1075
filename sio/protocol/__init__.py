"""Sans-IO Socket.IO v5: the packet codec, binary attachments, and the per-connection state.

No sockets, no clock, no logging here. This module is the public sans-IO API: code of other
packages that must stay sans-IO (the cluster's message codec) imports it instead of ``sio``.
"""

from __future__ import annotations

from ..errors import PacketError
from .binary import deconstruct, has_binary, reconstruct
from .decoder import PacketDecoder, decode_messages
from .encoder import encode_messages
from .packet import Packet, PacketType, decode_text, encode_text
from .recovery import (
    RecoveryOptions,
    RecoveryStore,
    Restored,
    Session,
    packet_matches,
)

__all__ = [
    "Packet",
    "PacketDecoder",
    "PacketError",
    "PacketType",
    "RecoveryOptions",
    "RecoveryStore",
    "Restored",
    "Session",
    "decode_messages",
    "decode_text",
    "deconstruct",
    "encode_messages",
    "encode_text",
    "has_binary",
    "packet_matches",
    "reconstruct",
]
