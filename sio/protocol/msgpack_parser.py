"""``socket.io-msgpack-parser`` (3.x): each packet is one MessagePack map, one binary Engine.IO
message::

    {type, nsp, data?, id?}        type 0-4: CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR

Binary arguments travel inline (msgpack ``bin``): no attachments, no BINARY_EVENT/BINARY_ACK.
The values are notepack.io's (``notepack.py``): ``undefined`` is ``d4 00 00`` (a map member left
out, ``None`` in an array), an ``ArrayBuffer`` is extension 0 (``bytes``).

Decoding is as strict as the JSON decoder (``packet.py``), and stricter than the npm parser,
which checks only the type, that ``nsp`` is a string, the data's shape per type and that ``id``
is an integer:

- the message is binary (the npm parser hands text to notepack, which cannot read it);
- one map, nothing after it; keys ``type`` and ``nsp``, maybe ``data`` and ``id``, and
  ``options`` (the official client's emit flags, ignored): any other key is refused;
- ``type`` an integer 0-4; ``nsp`` a string starting with "/"; ``id`` an integer 0 to
  10**15 - 1 (the JSON decoder's 15 digits); ``data`` as the JSON decoder wants it per type
  (an EVENT's first item a string, or number, not a reserved name); ``null`` is no data;
- nesting at most ``MAX_DEPTH`` deep inside ``data``; no extension other than notepack's.

Anything else is a ``PacketError`` (the connection closes with "parse error").
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import PacketError
from .notepack import NotepackError, pack, unpack
from .packet import MAX_ACK_ID_DIGITS, MAX_DEPTH, Packet, PacketType, check_payload

__all__ = ["MsgpackDecoder", "decode_msgpack", "decode_msgpack_messages", "encode_msgpack"]

#: Socket.IO types the msgpack parser has (no BINARY_EVENT/BINARY_ACK).
_TYPES = {int(t): t for t in PacketType if t <= PacketType.CONNECT_ERROR}
_KEYS = frozenset({"type", "nsp", "data", "id", "options"})
#: The packet map is one level; its data may nest ``MAX_DEPTH`` more.
_new_packet = tuple.__new__
_INT_MIN = -(2**63)
_UINT_LIMIT = 2**64


def encode_msgpack(packet: Packet) -> list[str | bytes]:
    """The one Engine.IO message of a packet: ``{type, data, nsp, id}`` in notepack (the
    order and the bytes the npm parser writes for that object), members without a value left
    out (a BINARY_EVENT/BINARY_ACK is sent as the EVENT/ACK it is).

    An integer beyond 64 bits, which msgpack cannot hold, is written as the float a
    JavaScript number would be (``JSON.parse`` makes the same of it).

    Raises:
        TypeError: data msgpack cannot hold (as ``json.dumps``).
        NotepackError: a lone surrogate, a cycle.
    """
    kind = packet.type
    if kind is PacketType.BINARY_EVENT:
        kind = PacketType.EVENT
    elif kind is PacketType.BINARY_ACK:
        kind = PacketType.ACK
    value: dict[str, Any] = {"type": int(kind)}
    if packet.data is not None:
        value["data"] = packet.data
    value["nsp"] = packet.namespace
    if packet.id is not None:
        value["id"] = packet.id
    try:
        return [pack(value)]
    except NotepackError:  # maybe an integer beyond 64 bits (else it fails again, as it should)
        value["data"] = _js_numbers(value.get("data"), 0)
        return [pack(value)]


def decode_msgpack(
    data: bytes | bytearray | memoryview,
    max_depth: int = MAX_DEPTH,
    max_ack_id_digits: int = MAX_ACK_ID_DIGITS,
) -> Packet:
    """The packet of one binary message (see the module docstring); a server's own limits
    may be lower than the defaults.

    Raises:
        PacketError: anything but a valid packet.
    """
    try:
        value = unpack(data, strict=True, max_depth=max_depth + 1)
    except NotepackError as exc:
        raise PacketError(f"invalid MessagePack: {exc}") from exc
    if type(value) is not dict:
        raise PacketError("a packet is not a map")
    if not value.keys() <= _KEYS:
        raise PacketError(f"unknown packet keys {sorted(value.keys() - _KEYS)!r}")
    kind = value.get("type")
    packet_type = _TYPES.get(kind) if type(kind) is int else None
    if packet_type is None:
        raise PacketError("invalid packet type")
    namespace = value.get("nsp")
    if type(namespace) is not str or namespace[:1] != "/":
        raise PacketError("invalid namespace")
    ack_id = value.get("id")
    if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id < 10**max_ack_id_digits):
        raise PacketError("invalid packet id")
    if "id" in value and ack_id is None:
        raise PacketError("invalid packet id")
    payload = value.get("data")
    if payload is None and "data" in value:
        raise PacketError(f"invalid payload for {packet_type.name}")  # null, as the JSON one
    options = value.get("options")
    if options is not None and type(options) is not dict:
        raise PacketError("invalid options")
    check_payload(packet_type, payload)
    return _new_packet(Packet, (packet_type, namespace, payload, ack_id, 0))


def _js_numbers(value: Any, depth: int) -> Any:
    """``value`` with integers beyond msgpack's 64 bits made floats (infinite past float's
    range)."""
    if isinstance(value, int):  # (a bool is in range)
        if _INT_MIN <= value < _UINT_LIMIT:
            return value
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if depth > MAX_DEPTH:
        return value  # msgpack refuses it anyway
    if isinstance(value, (list, tuple)):
        return [_js_numbers(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: _js_numbers(item, depth + 1) for key, item in value.items()}
    return value


class MsgpackDecoder:
    """``PacketDecoder``'s interface for the msgpack parser: every binary message is a whole
    packet, and text is a protocol error."""

    __slots__ = ("_max_ack_id_digits", "_max_depth")

    #: Never a packet waiting for attachments.
    partial: Packet | None = None

    def __init__(
        self,
        max_attachments: int = 0,
        max_depth: int = MAX_DEPTH,
        max_ack_id_digits: int = MAX_ACK_ID_DIGITS,
    ) -> None:
        """``max_attachments`` is ignored: binary travels inline."""
        self._max_depth = max_depth
        self._max_ack_id_digits = max_ack_id_digits

    @property
    def pending(self) -> bool:
        return False

    def receive_text(self, text: str) -> Packet | None:
        raise PacketError("text message: the msgpack parser takes binary messages only")

    def receive_binary(self, data: bytes) -> Packet | None:
        return decode_msgpack(data, self._max_depth, self._max_ack_id_digits)

    def receive_packet(self, packet: Packet) -> Packet | None:
        """A packet the caller decoded itself: complete as it is."""
        return packet

    def reset(self) -> None:
        """Nothing is ever half-received."""


def decode_msgpack_messages(messages: list[str | bytes], max_attachments: int = 0) -> Packet:
    """The packet whose Engine.IO messages (``encode_msgpack``) these are.

    Raises:
        PacketError: the messages are not exactly one packet.
    """
    if len(messages) != 1:
        raise PacketError("a msgpack packet is one message")
    (message,) = messages
    if isinstance(message, str):
        raise PacketError("text message: the msgpack parser takes binary messages only")
    return decode_msgpack(message)
