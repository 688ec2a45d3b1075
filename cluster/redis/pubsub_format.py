"""The wire format of Node's ``@socket.io/redis-adapter`` (8.x, ``lib/index.ts``), sans-IO:
channel names, broadcasts, requests and responses, byte for byte as Node writes them.

Channels, for namespace ``nsp`` and the key prefix (``socket.io`` by default)::

    <prefix>#<nsp>#              broadcasts to the whole namespace, or to several rooms
    <prefix>#<nsp>#<room>#       broadcasts to exactly one room (a server without it skips them)
    <prefix>-request#<nsp>#      requests: every server SUBSCRIBEs; PUBSUB NUMSUB counts servers
    <prefix>-response#<nsp>#     responses (a requester matches them by ``requestId``)
    <prefix>-response#<nsp>#<uid>#   responses to server ``uid`` only (Node's
                                 ``publishOnSpecificResponseChannel`` option)

Every server PSUBSCRIBEs ``<prefix>#<nsp>#*``.

A broadcast is notepack (MessagePack) of ``[uid, packet, opts]``::

    packet = {type: 2, data: [event, ...args], nsp}        binary arguments are msgpack bin
    opts   = {rooms: [...], except: [...], flags: {volatile?, timeout? (ms), ...}}

Requests are JSON ``{uid, requestId?, type, ...}``, except a BROADCAST (one expecting
acknowledgements), which is notepack; responses are JSON, except a BROADCAST_ACK. A reader tells
them apart by the first byte: ``{`` is JSON. By type::

    SOCKETS (0)            {uid, requestId, type, rooms}           -> {requestId, sockets: [sid]}
    ALL_ROOMS (1)          {uid, requestId, type}                  -> {requestId, rooms}
    REMOTE_JOIN (2)        {uid, type, opts: {rooms, except}, rooms}
    REMOTE_LEAVE (3)       {uid, type, opts: {rooms, except}, rooms}
    REMOTE_DISCONNECT (4)  {uid, type, opts: {rooms, except}, close}
        (older servers: {uid, requestId, type, sid, room | close} -> {requestId})
    REMOTE_FETCH (5)       {uid, requestId, type, opts: {rooms, except}}
                                            -> {requestId, sockets: [{id, handshake, rooms, data}]}
    SERVER_SIDE_EMIT (6)   {uid, requestId?, type, data: [event, ...args]}
                                            -> {type: 6, requestId, data?}  (always on the
                                               shared response channel)
    BROADCAST (7)          notepack {uid, requestId, type, packet, opts}
                                            -> {type: 8, requestId, clientCount}   (JSON)
                                            -> {type: 9, requestId, packet}        (notepack)

JSON is written as ``JSON.stringify`` writes it (compact, non-ASCII as is, binary as Node's
``Buffer.toJSON``: ``{"type": "Buffer", "data": [bytes]}``). Anything malformed or foreign is a
``FormatError`` (a ``ValueError``), never another exception.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from sio.protocol import NotepackError
from sio.protocol import notepack_check_depth as check_depth
from sio.protocol import notepack_pack as pack
from sio.protocol import notepack_unpack as unpack

__all__ = [
    "BroadcastMessage",
    "Channels",
    "FormatError",
    "Opts",
    "Request",
    "RequestType",
    "Response",
    "all_rooms_request",
    "all_rooms_response",
    "broadcast_ack_response",
    "broadcast_request",
    "client_count_response",
    "decode_broadcast",
    "decode_request",
    "decode_response",
    "done_response",
    "encode_broadcast",
    "fetch_response",
    "remote_disconnect_request",
    "remote_fetch_request",
    "remote_join_request",
    "remote_leave_request",
    "server_side_emit_request",
    "server_side_emit_response",
    "sockets_request",
    "sockets_response",
]


class FormatError(ValueError):
    """A message that is not in the adapter's format."""


class RequestType(IntEnum):
    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


#: Socket.IO's EVENT and BINARY_EVENT packet types (a broadcast carries its binary inline).
_EVENT = 2
_BINARY_EVENT = 5

#: A request id: Node's are 6 characters (``uid2(6)``); another implementation's may be numbers.
RequestId = str | int

# -- channels --------------------------------------------------------------------------------------


def _glob_escape(text: str) -> str:
    """``text`` matched literally in a Redis glob pattern."""
    for special in ("\\", "*", "?", "[", "]"):
        text = text.replace(special, "\\" + special)
    return text


@dataclass(frozen=True, slots=True)
class Channels:
    """The channel names of one namespace."""

    #: Broadcasts to the namespace (and the start of every room channel).
    broadcast: str
    request: str
    response: str
    #: What to PSUBSCRIBE: every broadcast channel of the namespace, and no other's.
    pattern: str

    @classmethod
    def of(cls, prefix: str, nsp: str) -> Channels:
        broadcast = f"{prefix}#{nsp}#"
        return cls(
            broadcast=broadcast,
            request=f"{prefix}-request#{nsp}#",
            response=f"{prefix}-response#{nsp}#",
            pattern=_glob_escape(broadcast) + "*",
        )

    def specific_response(self, uid: str) -> str:
        """Responses to server ``uid`` only."""
        return f"{self.response}{uid}#"

    def for_rooms(self, rooms: Collection[str]) -> str:
        """Where a broadcast to ``rooms`` goes: its room's channel when there is exactly one."""
        if len(rooms) == 1:
            return f"{self.broadcast}{next(iter(rooms))}#"
        return self.broadcast

    def room_of(self, channel: bytes | str) -> str | None:
        """The room a broadcast channel names ("" for the namespace's channel), or None when it
        is not a broadcast channel of this namespace (as Node: what follows the namespace's
        channel, less its last character)."""
        name = channel.decode("utf-8", "replace") if isinstance(channel, bytes) else channel
        if not name.startswith(self.broadcast):
            return None
        return name[len(self.broadcast) : -1]


# -- values ----------------------------------------------------------------------------------------


def _room(value: Any) -> str:
    """A room name (Node allows numbers: ``String(n)``)."""
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return str(int(value)) if value.is_integer() else repr(value)
    raise FormatError(f"not a room name: {value!r}")


def _rooms(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise FormatError(f"{what} is not an array")
    return tuple(_room(room) for room in value)


@dataclass(frozen=True, slots=True)
class Opts:
    """Broadcast options as they came (``flags`` as is: ``timeout`` is in milliseconds)."""

    rooms: tuple[str, ...] = ()
    except_rooms: tuple[str, ...] = ()
    flags: Mapping[str, Any] | None = None

    @classmethod
    def decode(cls, value: Any) -> Opts:
        if not isinstance(value, dict):
            raise FormatError("opts is not an object")
        flags = value.get("flags")
        if flags is not None and not isinstance(flags, dict):
            raise FormatError("opts.flags is not an object")
        return cls(
            _rooms(value.get("rooms"), "opts.rooms"),
            _rooms(value.get("except"), "opts.except"),
            flags,
        )

    @property
    def timeout(self) -> float | None:
        """``flags.timeout`` in seconds, if it is a positive number."""
        timeout = (self.flags or {}).get("timeout")
        if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
            return float(timeout) / 1000
        return None

    @property
    def volatile(self) -> bool:
        return bool((self.flags or {}).get("volatile"))


def _request_id(value: Any, required: bool) -> RequestId | None:
    if value is None and not required:
        return None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise FormatError("no valid requestId")


def _opts_out(opts: Mapping[str, Any]) -> dict[str, Any]:
    """``{rooms, except}``: what Node sends with room operations and fetches."""
    return {"rooms": list(opts.get("rooms", ())), "except": list(opts.get("except", ()))}


def _broadcast_opts_out(opts: Mapping[str, Any]) -> dict[str, Any]:
    """``{rooms, except, flags}``."""
    return {
        "rooms": list(opts.get("rooms", ())),
        "except": list(opts.get("except", ())),
        "flags": dict(opts.get("flags") or {}),
    }


# -- JSON as JSON.stringify / JSON.parse -----------------------------------------------------------


def _buffer_json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "Buffer", "data": list(bytes(value))}
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json(value: Any) -> bytes:
    """``JSON.stringify(value)`` as UTF-8 (binary as ``Buffer.toJSON``).

    Raises:
        TypeError: a value JSON cannot carry.
        ValueError: NaN or an infinity (JSON.stringify would write null; we refuse).
    """
    text = json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_buffer_json
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON.stringify escapes it
        return json.dumps(
            value, separators=(",", ":"), allow_nan=False, default=_buffer_json
        ).encode("ascii")


def _reject_constant(name: str) -> Any:
    raise FormatError(f"{name} is not JSON")


def _object(payload: bytes | bytearray | memoryview) -> dict[str, Any]:
    """A request or response: JSON if it starts with ``{``, else notepack; an object."""
    data = bytes(payload)
    try:
        if data[:1] == b"{":
            value = json.loads(data.decode("utf-8", "replace"), parse_constant=_reject_constant)
            value = check_depth(value)
        else:
            value = unpack(data)
    except FormatError:
        raise
    except (NotepackError, ValueError, RecursionError) as exc:
        raise FormatError(f"malformed message: {exc}") from exc
    if not isinstance(value, dict):
        raise FormatError("the message is not an object")
    return value


# -- broadcasts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BroadcastMessage:
    uid: Any
    nsp: str
    #: ``[event, ...args]`` (binary as ``bytes``).
    data: list[Any]
    opts: Opts


def encode_broadcast(uid: str, nsp: str, data: list[Any], opts: Mapping[str, Any]) -> bytes:
    """``[uid, {type: 2, data, nsp}, {rooms, except, flags}]`` in notepack.

    ``opts`` is ``{rooms, except, flags}`` (``cluster.adapter.encode_options``).

    Raises:
        TypeError, NotepackError: ``data`` cannot be encoded.
    """
    return pack([uid, {"type": _EVENT, "data": data, "nsp": nsp}, _broadcast_opts_out(opts)])


def _packet_data(packet: Any) -> tuple[list[Any], str]:
    if not isinstance(packet, dict):
        raise FormatError("packet is not an object")
    if packet.get("type", _EVENT) not in (_EVENT, _BINARY_EVENT):
        raise FormatError(f"not an EVENT packet: type {packet.get('type')!r}")
    data = packet.get("data")
    if not isinstance(data, list) or not data:
        raise FormatError("packet.data is not a non-empty array")
    nsp = packet.get("nsp", "/")
    if nsp is None:
        nsp = "/"
    if not isinstance(nsp, str):
        raise FormatError("packet.nsp is not a string")
    return data, nsp


def decode_broadcast(payload: bytes | bytearray | memoryview) -> BroadcastMessage:
    """Raises FormatError for anything but a broadcast."""
    try:
        value = unpack(payload)
    except NotepackError as exc:
        raise FormatError(f"malformed broadcast: {exc}") from exc
    if not isinstance(value, list) or len(value) < 3:
        raise FormatError("a broadcast is not [uid, packet, opts]")
    uid, packet, opts = value[0], value[1], value[2]
    data, nsp = _packet_data(packet)
    return BroadcastMessage(uid, nsp, data, Opts.decode(opts))


# -- requests --------------------------------------------------------------------------------------


def sockets_request(uid: str, request_id: str, rooms: Iterable[str]) -> bytes:
    return _json(
        {"uid": uid, "requestId": request_id, "type": RequestType.SOCKETS, "rooms": list(rooms)}
    )


def all_rooms_request(uid: str, request_id: str) -> bytes:
    return _json({"uid": uid, "requestId": request_id, "type": RequestType.ALL_ROOMS})


def remote_join_request(uid: str, opts: Mapping[str, Any], rooms: Iterable[str]) -> bytes:
    return _json(
        {"uid": uid, "type": RequestType.REMOTE_JOIN, "opts": _opts_out(opts), "rooms": list(rooms)}
    )


def remote_leave_request(uid: str, opts: Mapping[str, Any], rooms: Iterable[str]) -> bytes:
    return _json(
        {
            "uid": uid,
            "type": RequestType.REMOTE_LEAVE,
            "opts": _opts_out(opts),
            "rooms": list(rooms),
        }
    )


def remote_disconnect_request(uid: str, opts: Mapping[str, Any], close: bool) -> bytes:
    return _json(
        {
            "uid": uid,
            "type": RequestType.REMOTE_DISCONNECT,
            "opts": _opts_out(opts),
            "close": close,
        }
    )


def remote_fetch_request(uid: str, request_id: str, opts: Mapping[str, Any]) -> bytes:
    return _json(
        {
            "uid": uid,
            "requestId": request_id,
            "type": RequestType.REMOTE_FETCH,
            "opts": _opts_out(opts),
        }
    )


def server_side_emit_request(uid: str, args: list[Any], request_id: str | None = None) -> bytes:
    """``args`` is ``[event, ...args]``; with ``request_id``, acknowledgements are expected.

    Raises:
        TypeError, ValueError: ``args`` cannot be JSON.
    """
    if request_id is None:
        return _json({"uid": uid, "type": RequestType.SERVER_SIDE_EMIT, "data": args})
    return _json(
        {"uid": uid, "requestId": request_id, "type": RequestType.SERVER_SIDE_EMIT, "data": args}
    )


def broadcast_request(
    uid: str, request_id: str, nsp: str, data: list[Any], opts: Mapping[str, Any]
) -> bytes:
    """A broadcast whose recipients' acknowledgements are collected (notepack).

    Raises:
        TypeError, NotepackError: ``data`` cannot be encoded.
    """
    return pack(
        {
            "uid": uid,
            "requestId": request_id,
            "type": RequestType.BROADCAST,
            "packet": {"type": _EVENT, "data": data, "nsp": nsp},
            "opts": _broadcast_opts_out(opts),
        }
    )


@dataclass(frozen=True, slots=True)
class Request:
    """A request from a server, its fields checked for its type."""

    type: RequestType
    uid: Any = None
    request_id: RequestId | None = None
    #: REMOTE_JOIN/LEAVE/DISCONNECT (None: the older single-socket form), REMOTE_FETCH, BROADCAST.
    opts: Opts | None = None
    #: SOCKETS: the rooms asked about; REMOTE_JOIN/LEAVE: the rooms to join or leave.
    rooms: tuple[str, ...] = ()
    #: REMOTE_DISCONNECT.
    close: bool = False
    #: The older single-socket REMOTE_JOIN/LEAVE/DISCONNECT.
    sid: str | None = None
    room: str | None = None
    #: SERVER_SIDE_EMIT: ``[event, ...args]``; BROADCAST: the packet's data.
    data: list[Any] | None = None
    #: BROADCAST: the packet's namespace.
    nsp: str | None = None


def decode_request(payload: bytes | bytearray | memoryview) -> Request:
    """Raises FormatError for anything but a request of a known type."""
    value = _object(payload)
    try:
        kind = RequestType(value["type"])
    except (KeyError, ValueError, TypeError):
        raise FormatError(f"unknown request type {value.get('type')!r}") from None
    uid = value.get("uid")
    if kind is RequestType.SOCKETS:
        rid = _request_id(value.get("requestId"), True)
        return Request(kind, uid, rid, rooms=_rooms(value.get("rooms"), "rooms"))
    if kind is RequestType.ALL_ROOMS:
        return Request(kind, uid, _request_id(value.get("requestId"), True))
    if kind in (RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE, RequestType.REMOTE_DISCONNECT):
        close = bool(value.get("close"))
        if value.get("opts") is not None:
            opts = Opts.decode(value.get("opts"))
            rooms = (
                () if kind is RequestType.REMOTE_DISCONNECT else _rooms(value.get("rooms"), "rooms")
            )
            return Request(kind, uid, opts=opts, rooms=rooms, close=close)
        sid = value.get("sid")
        room = value.get("room")
        if not isinstance(sid, str):
            raise FormatError("a single-socket request without sid")
        if kind is not RequestType.REMOTE_DISCONNECT:
            room = _room(room)
        rid = _request_id(value.get("requestId"), False)
        return Request(kind, uid, rid, close=close, sid=sid, room=room)
    if kind is RequestType.REMOTE_FETCH:
        rid = _request_id(value.get("requestId"), True)
        return Request(kind, uid, rid, opts=Opts.decode(value.get("opts")))
    if kind is RequestType.SERVER_SIDE_EMIT:
        data = value.get("data")
        if not isinstance(data, list) or not data:
            raise FormatError("SERVER_SIDE_EMIT data is not a non-empty array")
        return Request(kind, uid, _request_id(value.get("requestId"), False), data=data)
    if kind is RequestType.BROADCAST:
        rid = _request_id(value.get("requestId"), True)
        data, nsp = _packet_data(value.get("packet"))
        return Request(kind, uid, rid, opts=Opts.decode(value.get("opts")), data=data, nsp=nsp)
    raise FormatError(f"{kind.name} is a response, not a request")


# -- responses -------------------------------------------------------------------------------------

#: "No value": ``server_side_emit_response`` without ``data`` (JavaScript's ``undefined``).
MISSING: Any = object()


def sockets_response(request_id: RequestId, sids: Iterable[str]) -> bytes:
    return _json({"requestId": request_id, "sockets": list(sids)})


def all_rooms_response(request_id: RequestId, rooms: Iterable[str]) -> bytes:
    return _json({"requestId": request_id, "rooms": list(rooms)})


def done_response(request_id: RequestId | None) -> bytes:
    """The answer to an older single-socket REMOTE_JOIN/LEAVE/DISCONNECT."""
    return _json({"requestId": request_id})


def fetch_response(request_id: RequestId, sockets: list[dict[str, Any]]) -> bytes:
    """``sockets``: ``{id, handshake, rooms, data}`` each.

    Raises:
        TypeError, ValueError: something in them cannot be JSON.
    """
    return _json({"requestId": request_id, "sockets": sockets})


def server_side_emit_response(request_id: RequestId, data: Any = MISSING) -> bytes:
    """One server's acknowledgement (its first argument; ``MISSING`` for none).

    Raises:
        TypeError, ValueError: ``data`` cannot be JSON.
    """
    if data is MISSING:
        return _json({"type": RequestType.SERVER_SIDE_EMIT, "requestId": request_id})
    return _json({"type": RequestType.SERVER_SIDE_EMIT, "requestId": request_id, "data": data})


def client_count_response(request_id: RequestId, count: int) -> bytes:
    return _json(
        {"type": RequestType.BROADCAST_CLIENT_COUNT, "requestId": request_id, "clientCount": count}
    )


def broadcast_ack_response(request_id: RequestId, packet: Any) -> bytes:
    """One client's acknowledgement of a BROADCAST (its first argument), in notepack.

    Raises:
        TypeError, NotepackError: ``packet`` cannot be encoded.
    """
    return pack({"type": RequestType.BROADCAST_ACK, "requestId": request_id, "packet": packet})


@dataclass(frozen=True, slots=True)
class Response:
    """A response; which fields matter depends on the request it answers."""

    request_id: RequestId
    #: SERVER_SIDE_EMIT, BROADCAST_CLIENT_COUNT or BROADCAST_ACK; None for the others.
    type: RequestType | None = None
    #: SOCKETS (sids) and REMOTE_FETCH (descriptions); None when absent.
    sockets: list[Any] | None = None
    #: ALL_ROOMS.
    rooms: list[Any] | None = None
    #: SERVER_SIDE_EMIT: the acknowledgement (None when absent).
    data: Any = None
    #: BROADCAST_CLIENT_COUNT.
    client_count: int = 0
    #: BROADCAST_ACK: the acknowledgement.
    packet: Any = None


def decode_response(payload: bytes | bytearray | memoryview) -> Response:
    """Raises FormatError for anything but a response."""
    value = _object(payload)
    rid = _request_id(value.get("requestId"), True)
    assert rid is not None
    kind: RequestType | None = None
    raw_type = value.get("type")
    if raw_type is not None:
        try:
            kind = RequestType(raw_type)
        except ValueError:
            raise FormatError(f"unknown response type {raw_type!r}") from None
    sockets = value.get("sockets")
    if sockets is not None and not isinstance(sockets, list):
        raise FormatError("sockets is not an array")
    rooms = value.get("rooms")
    if rooms is not None and not isinstance(rooms, list):
        raise FormatError("rooms is not an array")
    count = value.get("clientCount", 0)
    if kind is RequestType.BROADCAST_CLIENT_COUNT and (type(count) is not int or count < 0):
        raise FormatError("clientCount is not a count")
    return Response(
        rid,
        kind,
        sockets=sockets,
        rooms=rooms,
        data=value.get("data"),
        client_count=count if type(count) is int else 0,
        packet=value.get("packet"),
    )
