"""Socket.IO v5 packets, encoded as the reference parser does::

    <type>[<attachments>-][<namespace>,][<ack id>][JSON payload]

followed, for BINARY_EVENT and BINARY_ACK, by one binary Engine.IO message per attachment.
Decoding is strict: anything the reference parser refuses is a ``PacketError``, and so are ack ids
and attachment counts beyond named limits and JSON nested deeper than ``MAX_DEPTH``.
"""

from __future__ import annotations

import json
import math
import re
import types
from collections.abc import Callable
from enum import IntEnum
from typing import Any, NamedTuple

from ..errors import PacketError

__all__ = [
    "MAX_ACK_ID_DIGITS",
    "MAX_ATTACHMENTS",
    "MAX_DEPTH",
    "RESERVED_EVENTS",
    "Packet",
    "PacketType",
    "check_payload",
    "decode_text",
    "decode_text_with",
    "dumps",
    "encode_ack",
    "encode_text",
]

#: Attachments one packet may announce (the reference parser's ``maxAttachments`` default).
MAX_ATTACHMENTS = 10
#: Digits of an ack id: 2**53 (JavaScript's exact integers) has 16, so 15 always fits.
MAX_ACK_ID_DIGITS = 15
#: Deepest nesting of arrays/objects accepted; far below the interpreter's recursion limit, so
#: walking a payload (placeholders, re-encoding) can never raise RecursionError.
MAX_DEPTH = 128

#: Event names a peer may not send (the reference parser's list).
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)


class PacketType(IntEnum):
    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


class Packet(NamedTuple):
    """One Socket.IO packet. ``data`` None means "no payload"."""

    type: PacketType
    namespace: str = "/"
    data: Any = None
    id: int | None = None
    attachments: int = 0


_TYPES = {str(int(t)): t for t in PacketType}
_new_packet = tuple.__new__
#: type, attachment count (then "-"), namespace (up to "," or the end), ack id: what precedes the
#: JSON payload, read by one C-level match. ASCII digits only.
_HEADER = re.compile(r"([0-6])(?:([0-9]+)-)?(?:(/[^,]*),?)?([0-9]*)").match
_BINARY_TYPES = (PacketType.BINARY_EVENT, PacketType.BINARY_ACK)
_EVENT = PacketType.EVENT
_BINARY_EVENT = PacketType.BINARY_EVENT
_BINARY_ACK = PacketType.BINARY_ACK
_JSON_ENCODE_ASCII = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _make_encoder() -> Callable[[Any], str]:
    """``json.dumps(separators=(",", ":"), ensure_ascii=False, allow_nan=False)`` without
    rebuilding the C encoder on every call, as ``JSONEncoder.encode`` does. No cycle markers:
    a cycle ends in RecursionError instead of ValueError."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
    encode_string = json.encoder.encode_basestring
    chunks = make(None, _not_serializable, encode_string, None, ":", ",", False, False, False)

    def encode(value: Any) -> str:
        if type(value) is str:
            return str(encode_string(value))
        return "".join(chunks(value, 0))

    return encode


_JSON_ENCODE = _make_encoder()


def _reject_constant(name: str) -> Any:
    # NaN, Infinity and -Infinity are not JSON: JSON.parse (so the reference parser) refuses them.
    raise ValueError(f"{name} is not JSON")


_SCAN = json.JSONDecoder(parse_constant=_reject_constant).scan_once  # type: ignore[attr-defined]
_JSON_WHITESPACE = " \t\n\r"


def _JSON_DECODE(text: str) -> Any:
    """``json.loads`` minus its Python-level wrapping (whitespace allowed around the value)."""
    start = 0
    if text[:1] in _JSON_WHITESPACE:
        start = len(text) - len(text.lstrip(_JSON_WHITESPACE))
    try:
        value, end = _SCAN(text, start)
    except StopIteration as exc:
        raise ValueError("invalid JSON") from exc
    if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
        raise ValueError("extra data after the JSON value")
    return value


def dumps(data: Any) -> str:
    """JSON as ``JSON.stringify`` writes it: compact, non-ASCII kept, lone surrogates escaped,
    NaN and infinities written as ``null`` (never the non-JSON ``NaN``/``Infinity``)."""
    try:
        text: str = _JSON_ENCODE(data)
    except ValueError:  # a non-finite float (1e999 decodes to inf); a cycle raises again below
        data = _finite(data, set())
        text = _JSON_ENCODE(data)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (from a "\\ud800" escape): escape it back
            text = _JSON_ENCODE_ASCII(data)
    return text


def _finite(value: Any, active: set[int]) -> Any:
    """``value`` with NaN and infinities replaced by None (``active``: containers being walked)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, (list, tuple, dict)):
        return value
    key = id(value)
    if key in active:
        raise ValueError("Circular reference detected")
    active.add(key)
    if isinstance(value, dict):
        result: Any = {name: _finite(item, active) for name, item in value.items()}
    else:
        result = [_finite(item, active) for item in value]
    active.discard(key)
    return result


_TYPE_CHARS = {t: str(int(t)) for t in PacketType}


def encode_text(packet: Packet) -> str:
    """The text part of a packet (attachments travel separately, see ``binary.py``)."""
    kind = packet.type
    if kind is PacketType.EVENT or kind is PacketType.ACK:  # the hot path: no attachment count
        head = _TYPE_CHARS[kind]
        if packet.namespace != "/":
            head += packet.namespace + ","
        if packet.id is not None:
            head += str(packet.id)
        return head if packet.data is None else head + dumps(packet.data)
    parts = [_TYPE_CHARS[kind]]
    if packet.type in _BINARY_TYPES:
        parts.append(f"{packet.attachments}-")
    if packet.namespace != "/":
        parts.append(packet.namespace + ",")
    if packet.id is not None:
        parts.append(str(packet.id))
    if packet.data is not None:
        parts.append(dumps(packet.data))
    return "".join(parts)


def encode_ack(namespace: str, ack_id: int, args: list[Any] | tuple[Any, ...]) -> str:
    """The text of an ACK packet whose arguments hold no binary: ``encode_text`` of it, for
    less (the hot path of every acknowledged event)."""
    head = "3" if namespace == "/" else f"3{namespace},"
    return f"{head}{ack_id}{dumps(args)}"


def decode_text(
    text: str,
    max_attachments: int = MAX_ATTACHMENTS,
    max_depth: int = MAX_DEPTH,
    max_ack_id_digits: int = MAX_ACK_ID_DIGITS,
) -> Packet:
    """Decode the text part of a packet. The limits may be lowered, never raised past the
    constants (``MAX_DEPTH`` also bounds the walks of ``binary.py``).

    Raises:
        PacketError: unknown type, bad attachment count, bad ack id, invalid JSON, or a payload
            that is not allowed for the packet type.
    """
    head = _HEADER(text)
    if head is None:
        raise PacketError(f"unknown packet type {text[:1]!r}")
    type_char, count, namespace, digits = head.groups()
    packet_type = _TYPES[type_char]
    attachments = 0
    if count is not None or packet_type is _BINARY_EVENT or packet_type is _BINARY_ACK:
        if count is None or packet_type not in _BINARY_TYPES or len(count) > 4:
            raise PacketError("illegal attachments")
        attachments = int(count)
        if attachments > max_attachments:
            raise PacketError("too many attachments")
    ack_id: int | None = None
    if digits:
        if len(digits) > max_ack_id_digits:
            raise PacketError("ack id too long")
        ack_id = int(digits)
    start = head.end()
    data: Any = None
    if start < len(text):
        data = _parse_json(text[start:], max_depth)
        if data is None:  # "null" is no valid payload for any type (the reference refuses it)
            raise PacketError(f"invalid payload for {packet_type.name}")
        if (  # the hot path: an event named by a string (checked in full below otherwise)
            packet_type is _EVENT
            and type(data) is list
            and data
            and type(data[0]) is str
            and data[0] not in RESERVED_EVENTS
        ):
            return _new_packet(Packet, (_EVENT, namespace or "/", data, ack_id, 0))
    check_payload(packet_type, data)
    # tuple.__new__ directly: the NamedTuple constructor is a Python-level call.
    return _new_packet(Packet, (packet_type, namespace or "/", data, ack_id, attachments))


def decode_text_with(
    max_attachments: int = MAX_ATTACHMENTS,
    max_depth: int = MAX_DEPTH,
    max_ack_id_digits: int = MAX_ACK_ID_DIGITS,
) -> Callable[[str], Packet]:
    """``decode_text`` with other limits as its defaults: ``decode(text)``. A copy of the
    function, not a wrapper: a server's limits cost its hot path no argument and no call."""
    if not 1 <= max_depth <= MAX_DEPTH or not 1 <= max_ack_id_digits <= MAX_ACK_ID_DIGITS:
        raise ValueError("limits can be lowered, not raised past MAX_DEPTH / MAX_ACK_ID_DIGITS")
    decode = types.FunctionType(
        decode_text.__code__,
        decode_text.__globals__,
        decode_text.__name__,
        (max_attachments, max_depth, max_ack_id_digits),
        decode_text.__closure__,
    )
    decode.__doc__ = decode_text.__doc__
    return decode


def _parse_json(text: str, max_depth: int) -> Any:
    try:
        if text[:1] in _JSON_WHITESPACE:
            data = _JSON_DECODE(text)
        else:  # the usual payload: no whitespace around it, one C scan
            data, end = _SCAN(text, 0)
            if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
                raise ValueError("extra data after the JSON value")
    except StopIteration as exc:
        raise PacketError("invalid JSON payload") from exc
    except (ValueError, RecursionError) as exc:
        raise PacketError("invalid JSON payload") from exc
    # Brackets bound the depth, so only a payload that could be too deep is walked.
    if (
        len(text) > max_depth
        and text.count("[") + text.count("{") > max_depth
        and _depth_exceeds(data, max_depth)
    ):
        raise PacketError("payload nested too deeply")
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, list):
            children: Any = value
        elif isinstance(value, dict):
            children = value.values()
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_payload(packet_type: PacketType, data: Any) -> None:
    """Raises PacketError if ``data`` (None: none) is no valid payload for ``packet_type``."""
    if packet_type is PacketType.CONNECT:
        ok = data is None or isinstance(data, dict)
    elif packet_type is PacketType.DISCONNECT:
        ok = data is None
    elif packet_type is PacketType.EVENT or packet_type is PacketType.BINARY_EVENT:
        ok = isinstance(data, list) and len(data) > 0 and _valid_event_name(data[0])
    elif packet_type is PacketType.ACK or packet_type is PacketType.BINARY_ACK:
        ok = isinstance(data, list)
    else:  # CONNECT_ERROR
        ok = isinstance(data, (str, dict))
    if not ok:
        raise PacketError(f"invalid payload for {packet_type.name}")


def _valid_event_name(name: Any) -> bool:
    if isinstance(name, str):
        return name not in RESERVED_EVENTS
    return isinstance(name, (int, float)) and not isinstance(name, bool)
