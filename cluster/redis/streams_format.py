"""The wire format of Node's ``@socket.io/redis-streams-adapter`` 0.3.1, sans-IO.

**The stream** (``XADD socket.io MAXLEN ~ 10000 * uid <uid> nsp <nsp> type <n> data <data>``)
carries what every server must apply, in order: BROADCAST without acknowledgements,
SOCKETS_JOIN, SOCKETS_LEAVE, DISCONNECT_SOCKETS. ``type`` is the ``MessageType`` in decimal;
``data`` (absent when the message has none) is ``JSON.stringify(message.data)``, or, for a type
that may carry binary and does, the base64 of its msgpack. A reader tells them apart as Node
does: JSON starts with ``{``. A BROADCAST's ``packet`` is Node's packet object ``{type, data}``
(type 2, binary inline, no namespace and no offset: every reader appends the entry's id as the
offset, ``with_offset``).

**Pub/sub** carries the ephemeral requests and their answers, each the msgpack of the whole
message ``{type, data, uid, nsp}``: BROADCAST with ``requestId``, SERVER_SIDE_EMIT (with or
without one) and FETCH_SOCKETS to ``<prefix>#<nsp>#`` (every server of the namespace subscribes
to it; ``PUBSUB NUMSUB`` of it is Node's server count), answers (FETCH_SOCKETS_RESPONSE,
SERVER_SIDE_EMIT_RESPONSE, BROADCAST_CLIENT_COUNT, BROADCAST_ACK) to the requester's
``<prefix>#<nsp>#<uid>#``. 0.3.1 sends no heartbeats: who is up is who subscribes
(``peers_in``).

**Sessions** (connection state recovery): ``SET sio:session:<pid> base64(msgpack({sid, pid,
rooms, data})) PX <window ms>``; offsets are stream ids (``ms-seq``).

msgpack is ``@msgpack/msgpack``'s: binary as bin, ``undefined`` as nil, a ``Date`` as the
timestamp extension (-1). ``notepack.unpack`` reads all of it the same (a date as the string
``JSON.stringify`` makes of it, nesting bounded); what we write is plain msgpack, as
``notepack.pack`` writes it, with what msgpack cannot hold (a set in ``socket.data``...) as its
``str`` (as our bus does).
Nothing here does I/O: garbage is a ``StreamFormatError``, never a crash, and data over
``MAX_DATA`` bytes is refused both ways.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgpack

from sio.protocol import (
    NotepackError,
    Packet,
    PacketError,
    PacketType,
    Session,
    decode_messages,
    encode_messages,
    has_binary,
    packet_matches,
)
from sio.protocol import notepack_check_depth as check_depth
from sio.protocol import notepack_unpack as unpack

from ..messages import ClusterMessage, EncodedPacket, MessageType

__all__ = [
    "MAX_DATA",
    "StreamFormatError",
    "decode_entry",
    "decode_ephemeral",
    "decode_session",
    "encode_data",
    "encode_entry",
    "encode_ephemeral",
    "encode_session",
    "entry_fields",
    "is_ephemeral",
    "is_offset",
    "missed_packet",
    "next_offset",
    "offset_key",
    "peer_pattern",
    "peers_in",
    "request_channel",
    "response_channel",
    "session_key",
    "with_offset",
]

#: Largest ``data`` (encoded) or pub/sub payload accepted or produced, in bytes.
MAX_DATA = 64 * 1024 * 1024

_BROADCAST = MessageType.BROADCAST
#: Types whose data may hold binary (Node's ``mayContainBinary``): the others are always JSON.
_MAY_CONTAIN_BINARY = frozenset(
    {
        MessageType.BROADCAST,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_ACK,
    }
)
_TYPES = {str(int(kind)): kind for kind in MessageType}
_OFFSET = re.compile(r"[0-9]+-[0-9]+\Z")
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")
#: What each side of a packet's type becomes on the other (binary is inline on the stream).
_INLINE = {PacketType.BINARY_EVENT: PacketType.EVENT, PacketType.BINARY_ACK: PacketType.ACK}


class StreamFormatError(ValueError):
    """A stream entry, pub/sub payload or session that is not the adapter's format, or a message
    that cannot be put in it."""


# -- names --------------------------------------------------------------------------------------


def request_channel(prefix: str, nsp: str) -> str:
    """Where requests for namespace ``nsp`` go (every server of it subscribes)."""
    return f"{prefix}#{nsp}#"


def response_channel(prefix: str, nsp: str, uid: str) -> str:
    """Where the answers to server ``uid``'s requests for ``nsp`` go."""
    return f"{prefix}#{nsp}#{uid}#"


def session_key(prefix: str, pid: str) -> str:
    return prefix + pid


def peer_pattern(prefix: str) -> str:
    """The ``PUBSUB CHANNELS`` pattern that lists every server's channels."""
    return _GLOB_SPECIAL.sub(r"\\\1", prefix) + "#*"


def peers_in(channels: Iterable[str], prefix: str, nsp: str) -> frozenset[str]:
    """The uids of the servers of ``nsp``: those subscribed to their answer channel (as the
    public channel's subscribers are Node's server count). A namespace whose name holds ``#``
    may see a uid that is not one."""
    head = request_channel(prefix, nsp)
    start = len(head)
    found = set()
    for channel in channels:
        if len(channel) > start + 1 and channel.startswith(head) and channel.endswith("#"):
            uid = channel[start:-1]
            if "#" not in uid:
                found.add(uid)
    return frozenset(found)


# -- offsets ------------------------------------------------------------------------------------


def is_offset(offset: str) -> bool:
    """Is this a stream id (Node's check before a restore)?"""
    return _OFFSET.match(offset) is not None


def offset_key(offset: str) -> tuple[int, int]:
    """A stream id, comparable (``is_offset`` first)."""
    ms, _, seq = offset.partition("-")
    return int(ms), int(seq)


def next_offset(offset: str) -> str:
    """The smallest id after ``offset`` (Node's ``nextOffset``: XRANGE from it is exclusive)."""
    ms, _, seq = offset.partition("-")
    return f"{ms}-{int(seq) + 1}"


# -- values: ours <-> Node's --------------------------------------------------------------------


def _node_packet(packet: Any) -> dict[str, Any]:
    """Node's packet object ``{type, data[, id]}`` of a ``Packet`` or ``EncodedPacket``."""
    if isinstance(packet, EncodedPacket) and packet.packet is not None:
        packet = packet.packet  # the sender's, whichever parser encoded the messages
    elif isinstance(packet, EncodedPacket):
        try:
            packet = decode_messages(packet.messages)
        except PacketError as exc:
            raise StreamFormatError(f"broadcast packet: {exc}") from exc
    if not isinstance(packet, Packet):
        raise StreamFormatError("a broadcast without a packet")
    kind = _INLINE.get(packet.type, packet.type)
    out: dict[str, Any] = {"type": int(kind), "data": packet.data}
    if packet.id is not None:
        out["id"] = packet.id
    return out


def _to_node(kind: MessageType, data: Any) -> Any:
    """A message's data in Node's shape (only a BROADCAST's packet differs)."""
    if kind is not _BROADCAST:
        return data
    if not isinstance(data, dict) or "packet" not in data:
        raise StreamFormatError("a broadcast without a packet")
    out = {}
    for key, value in data.items():
        if key == "packet":
            out[key] = _node_packet(value)
        elif key != "offset":  # our fork bus's, not Node's: readers take the entry's id
            out[key] = value
    return out


def _our_packet(value: Any, nsp: str) -> Packet:
    if not isinstance(value, dict):
        raise StreamFormatError("broadcast packet is not an object")
    number = value.get("type")
    try:
        kind = PacketType(number) if type(number) is int else None
    except ValueError:
        kind = None
    if kind is None:
        raise StreamFormatError(f"bad packet type {number!r}")
    kind = _INLINE.get(kind, kind)
    data = value.get("data")
    ack_id = value.get("id")
    if kind is PacketType.EVENT and (not isinstance(data, list) or not data):
        raise StreamFormatError("an event without arguments")
    if ack_id is not None and (type(ack_id) is not int or ack_id < 0):
        raise StreamFormatError(f"bad ack id {ack_id!r}")
    return Packet(kind, nsp, data, ack_id)


def _from_node(kind: MessageType, nsp: str, data: Any) -> Any:
    if kind is not _BROADCAST:
        return data
    if not isinstance(data, dict):
        raise StreamFormatError("broadcast data is not an object")
    return {**data, "packet": _our_packet(data.get("packet"), nsp)}


def _message(uid: Any, nsp: Any, kind: Any, data: Any) -> ClusterMessage:
    if not isinstance(uid, str) or not isinstance(nsp, str):
        raise StreamFormatError("uid and nsp must be strings")
    try:
        if not isinstance(kind, int) or isinstance(kind, bool):
            raise ValueError
        kind = MessageType(kind)
    except ValueError:
        raise StreamFormatError(f"unknown message type {kind!r}") from None
    return ClusterMessage(uid, nsp, kind, _from_node(kind, nsp, data))


# -- JSON and msgpack as Node writes them -------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_json_encode = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str
).encode
_json_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


def _pack_default(value: Any) -> Any:
    # What msgpack cannot hold (a set in ``socket.data``...) becomes its ``str``, as on our bus.
    return str(value)


def _pack(value: Any) -> bytes:
    try:
        packed: bytes = msgpack.packb(value, use_bin_type=True, default=_pack_default)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise StreamFormatError(f"cannot be msgpack: {exc}") from exc
    return packed


def _unpack(payload: bytes) -> Any:
    if len(payload) > MAX_DATA:
        raise StreamFormatError(f"{len(payload)} bytes of msgpack, over the {MAX_DATA} limit")
    try:
        return unpack(payload)
    except NotepackError as exc:
        raise StreamFormatError(f"bad msgpack: {exc}") from exc


# -- stream entries -----------------------------------------------------------------------------


def encode_data(kind: MessageType, data: Any) -> str:
    """The ``data`` field of a message of type ``kind``.

    Raises:
        StreamFormatError: the data cannot be encoded, or is over ``MAX_DATA``.
    """
    text = _spliced_broadcast(data) if kind is _BROADCAST else None
    if text is None:
        node_data = _to_node(kind, data)
        try:
            binary = kind in _MAY_CONTAIN_BINARY and has_binary(node_data)
        except ValueError as exc:
            raise StreamFormatError(str(exc)) from exc
        if binary:
            text = base64.b64encode(_pack(node_data)).decode("ascii")
        else:
            try:
                text = _json_encode(node_data)
            except (TypeError, ValueError, RecursionError) as exc:
                raise StreamFormatError(f"cannot be JSON: {exc}") from exc
    if len(text) > MAX_DATA:
        raise StreamFormatError(f"{len(text)} bytes of data, over the {MAX_DATA} limit")
    return text


def _spliced_broadcast(data: Any) -> str | None:
    """A broadcast of an already-encoded EVENT without binary nor ack, whose Socket.IO text
    holds its arguments as JSON: that JSON, spliced in (not parsed and dumped again)."""
    if not isinstance(data, dict) or data.keys() != {"packet", "opts"}:
        return None
    packet = data["packet"]
    if not isinstance(packet, EncodedPacket) or len(packet.messages) != 1:
        return None
    text = packet.messages[0]
    if not isinstance(text, str) or text[:1] != "2":
        return None
    start = 1
    if text[1:2] == "/":
        start = text.find(",") + 1
        if start == 0:
            return None
    if text[start : start + 1] != "[":
        return None  # an ack id, or no arguments: the general path
    try:
        opts = _json_encode(data["opts"])
    except (TypeError, ValueError, RecursionError) as exc:
        raise StreamFormatError(f"cannot be JSON: {exc}") from exc
    return '{"packet":{"type":2,"data":' + text[start:] + '},"opts":' + opts + "}"


def encode_entry(message: ClusterMessage) -> list[str]:
    """The fields of the XADD of ``message`` (after ``*``): uid, nsp, type[, data].

    Raises:
        StreamFormatError: see ``encode_data``.
    """
    fields = ["uid", message.uid, "nsp", message.nsp, "type", str(int(message.type))]
    if message.data is not None:
        fields += ["data", encode_data(message.type, message.data)]
    return fields


def entry_fields(fields: Any) -> dict[str, bytes]:
    """An entry's field list (``[name, value, ...]``, as XREAD and XRANGE give it) as a dict.

    Raises:
        StreamFormatError: not such a list.
    """
    if not isinstance(fields, list) or len(fields) % 2:
        raise StreamFormatError("entry fields are not name/value pairs")
    out: dict[str, bytes] = {}
    for index in range(0, len(fields), 2):
        name, value = fields[index], fields[index + 1]
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise StreamFormatError("entry fields are not strings")
        out[name.decode("utf-8", "replace")] = value
    return out


def decode_entry(fields: dict[str, bytes]) -> ClusterMessage:
    """The message of a stream entry (its ``entry_fields``).

    Raises:
        StreamFormatError: not a message of the adapter's format.
    """
    try:
        uid = fields["uid"].decode("utf-8")
        nsp = fields["nsp"].decode("utf-8")
        kind = _TYPES.get(fields["type"].decode("ascii"))
        raw = fields.get("data")
    except KeyError as exc:
        raise StreamFormatError(f"entry without {exc}") from None
    except UnicodeDecodeError as exc:
        raise StreamFormatError(f"entry field is not UTF-8: {exc}") from None
    if kind is None:
        raise StreamFormatError(f"unknown message type {fields['type'][:20]!r}")
    data: Any = None
    if raw:
        if len(raw) > MAX_DATA:
            raise StreamFormatError(f"{len(raw)} bytes of data, over the {MAX_DATA} limit")
        if raw[:1] == b"{":
            try:
                data = check_depth(_json_decode(raw.decode("utf-8")))
            except (ValueError, RecursionError) as exc:  # NotepackError included
                raise StreamFormatError(f"bad JSON data: {exc}") from exc
        else:
            try:
                packed = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise StreamFormatError(f"data is neither JSON nor base64: {exc}") from exc
            data = _unpack(packed)
    return _message(uid, nsp, kind, data)


def with_offset(message: ClusterMessage, offset: str) -> ClusterMessage:
    """A broadcast read from the stream as a server with recovery on delivers it: a
    recoverable packet (an EVENT without ack id, not volatile) gets the entry's id as its last
    argument (Node's ``addOffsetIfNecessary``). Anything else is returned as is."""
    data = message.data
    if message.type is not _BROADCAST or not isinstance(data, dict) or "requestId" in data:
        return message
    packet = data.get("packet")
    opts = data.get("opts")
    flags = opts.get("flags") if isinstance(opts, dict) else None
    volatile = isinstance(flags, dict) and bool(flags.get("volatile"))
    if not isinstance(packet, Packet) or packet.type is not PacketType.EVENT:
        return message
    if packet.id is not None or volatile:
        return message
    packet = packet._replace(data=[*packet.data, offset])
    data = {**data, "packet": packet, "offset": offset}
    return ClusterMessage(message.uid, message.nsp, message.type, data)


def missed_packet(
    message: ClusterMessage,
    offset: str,
    nsp: str,
    rooms: Sequence[str],
    encode: Callable[[Packet], list[str | bytes]] = encode_messages,
) -> list[str | bytes] | None:
    """What a session of ``nsp`` in ``rooms`` missed in this entry (id ``offset``): the
    Engine.IO messages (by ``encode``, the server's parser) of its packet with the offset
    appended, or None (another namespace,
    not a plain broadcast, or not to these rooms). Volatile packets are not replayed (they
    never had an offset)."""
    data = message.data
    if message.type is not _BROADCAST or message.nsp != nsp or not isinstance(data, dict):
        return None
    if "requestId" in data:
        return None
    packet = data.get("packet")
    opts = data.get("opts")
    if not isinstance(packet, Packet) or not isinstance(opts, dict):
        return None
    flags = opts.get("flags")
    if packet.type is not PacketType.EVENT or packet.id is not None:
        return None
    if isinstance(flags, dict) and flags.get("volatile"):
        return None
    to = opts.get("rooms") or []
    but = opts.get("except") or []
    if not isinstance(to, list) or not isinstance(but, list):
        return None
    if not packet_matches(rooms, frozenset(map(str, to)), frozenset(map(str, but))):
        return None
    try:
        return encode(packet._replace(data=[*packet.data, offset]))
    except (ValueError, TypeError, RecursionError):
        return None


# -- pub/sub ------------------------------------------------------------------------------------


def is_ephemeral(message: ClusterMessage) -> bool:
    """Does ``message`` go over pub/sub (Node's ``isEphemeral``), not the stream?"""
    kind = message.type
    if kind is _BROADCAST:
        return isinstance(message.data, dict) and message.data.get("requestId") is not None
    return kind is MessageType.SERVER_SIDE_EMIT or kind is MessageType.FETCH_SOCKETS


def encode_ephemeral(message: ClusterMessage) -> bytes:
    """The pub/sub payload of a request or an answer: msgpack of ``{type, data, uid, nsp}``.

    Raises:
        StreamFormatError: the data cannot be encoded, or is over ``MAX_DATA``.
    """
    body: dict[str, Any] = {"type": int(message.type)}
    if message.data is not None:
        body["data"] = _to_node(message.type, message.data)
    body["uid"] = message.uid
    body["nsp"] = message.nsp
    payload = _pack(body)
    if len(payload) > MAX_DATA:
        raise StreamFormatError(f"{len(payload)} bytes of msgpack, over the {MAX_DATA} limit")
    return payload


def decode_ephemeral(payload: bytes) -> ClusterMessage:
    """Raises StreamFormatError: not a message of the adapter's format."""
    body = _unpack(payload)
    if not isinstance(body, dict):
        raise StreamFormatError("a pub/sub message that is not a map")
    return _message(body.get("uid"), body.get("nsp"), body.get("type"), body.get("data"))


# -- sessions -----------------------------------------------------------------------------------


def encode_session(session: Session) -> str:
    """The value of a session's key: base64 of the msgpack of ``{sid, pid, rooms, data}``."""
    body = {
        "sid": session.sid,
        "pid": session.pid,
        "rooms": list(session.rooms),
        "data": session.data,
    }
    return base64.b64encode(_pack(body)).decode("ascii")


def decode_session(value: bytes) -> Session:
    """Raises StreamFormatError: not a session."""
    try:
        packed = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise StreamFormatError(f"session is not base64: {exc}") from exc
    body = _unpack(packed)
    if not isinstance(body, dict):
        raise StreamFormatError("session is not a map")
    sid, pid, rooms = body.get("sid"), body.get("pid"), body.get("rooms")
    if not isinstance(sid, str) or not isinstance(pid, str) or not isinstance(rooms, list):
        raise StreamFormatError("session without sid, pid and rooms")
    if not all(isinstance(room, str) for room in rooms):
        raise StreamFormatError("session rooms are not strings")
    data = body.get("data")
    return Session(sid, pid, rooms, {} if data is None else data)
