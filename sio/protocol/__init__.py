"""Sans-IO Socket.IO v5: the packet codecs (JSON, msgpack) and the parser seam, binary
attachments, notepack, and the per-connection state.

No sockets, no clock, no logging here. This module is the public sans-IO API: code of other
packages that must stay sans-IO (the cluster's message codec) imports it instead of ``sio``.
"""

from __future__ import annotations

from ..errors import PacketError
from .binary import deconstruct, has_binary, reconstruct
from .decoder import PacketDecoder, decode_messages
from .encoder import encode_messages
from .msgpack_parser import decode_msgpack, encode_msgpack
from .notepack import MsgpackMissingError, NotepackError
from .notepack import check_depth as notepack_check_depth
from .notepack import pack as notepack_pack
from .notepack import unpack as notepack_unpack
from .packet import Packet, PacketType, decode_text, encode_text
from .parser import JSON_PARSER, PARSER_NAMES, Decoder, Parser, parser_named
from .recovery import (
    RecoveryOptions,
    RecoveryStore,
    Restored,
    Session,
    packet_matches,
)

__all__ = [
    "JSON_PARSER",
    "PARSER_NAMES",
    "Decoder",
    "MsgpackMissingError",
    "NotepackError",
    "Packet",
    "PacketDecoder",
    "PacketError",
    "PacketType",
    "Parser",
    "RecoveryOptions",
    "RecoveryStore",
    "Restored",
    "Session",
    "decode_messages",
    "decode_msgpack",
    "decode_text",
    "deconstruct",
    "encode_messages",
    "encode_msgpack",
    "encode_text",
    "has_binary",
    "notepack_check_depth",
    "notepack_pack",
    "notepack_unpack",
    "packet_matches",
    "parser_named",
    "reconstruct",
]
