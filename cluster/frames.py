"""The cluster bus framing, sans-IO: length-prefixed frames between workers and the master, and
the encoding of cluster messages (``cluster/messages.py``) in them.

    frame   = length:u32 | type:u8 | source:u16 | target:u16 | nsp_len:u16 | nsp | payload
    (length counts everything after itself; nsp is UTF-8)

    payload = head_len:u32 | head (JSON) | count:u32 | item*
    item    = kind:u8 (0 text, 1 binary) | size:u32 | bytes

The master relays frames by looking only at ``target`` (a worker id, or ``ALL``): it never
decodes payloads. The namespace is in the header, so a worker finds the adapter of a message
without decoding its payload, and decodes it once. A message's ``uid`` is its source worker's
id, so it takes no room. In a BROADCAST the head is ``{opts, requestId?}`` and the items are the
packet's Engine.IO messages, encoded once by the sending worker and delivered as they are; in any
other message the head is ``data`` with binary values replaced by placeholders, and the items are
those binaries. Master frames (``Control``) carry JSON. Nothing is pickled.
"""

from __future__ import annotations

import json
import struct
from enum import IntEnum
from typing import Any, NamedTuple

from sio.protocol import PacketError, deconstruct, encode_messages, reconstruct

from .messages import ClusterMessage, EncodedPacket, MessageType

__all__ = [
    "ALL",
    "MASTER",
    "MAX_FRAME",
    "Control",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "Metrics",
    "Recovery",
    "decode_json",
    "decode_message",
    "decode_payload",
    "encode_frame",
    "encode_json",
    "encode_message",
    "encode_payload",
]

#: Target meaning "every worker but the sender".
ALL = 0xFFFF
#: Source id of frames the master itself sends.
MASTER = 0
#: Largest frame accepted (a broadcast of a maximum-size message with room to spare).
MAX_FRAME = 64 * 1024 * 1024

_HEAD = struct.Struct("!IBHHH")
_BODY_HEAD = struct.Struct("!BHHH")
_U32 = struct.Struct("!I")
_ITEM = struct.Struct("!BI")
_TEXT = 0
_BINARY = 1


class FrameError(Exception):
    """A malformed frame or payload. A bad frame length breaks the link (it cannot be
    resynchronised); a bad payload costs only its frame."""


class Control(IntEnum):
    """Frames of the master (source ``MASTER``), outside Node's message types."""

    #: Master -> worker: your id and the ids of the live workers.
    HELLO = 20
    #: Master -> all: a worker came, or went.
    WORKER_UP = 21
    WORKER_DOWN = 22
    #: Master -> a worker: your oldest logged broadcast not yet confirmed is in the log now
    #: (connection state recovery; no payload).
    LOGGED = 23


class Recovery(IntEnum):
    """Frames between a worker and the master's recovery store (connection state recovery),
    target ``MASTER``, namespace in the header. Payloads are ``encode_payload``'s."""

    #: Worker -> master: a socket's session changed. Head ``{op, sid, ...}``: ``open`` (pid,
    #: rooms, data), ``rooms`` (rooms, data: the whole set), ``end`` (pid, rooms, data, keep:
    #: whether it may be restored).
    SESSION = 30
    #: Worker -> master: ``{requestId, pid, offset}``: give this session back.
    RESTORE = 31
    #: Master -> worker: ``{requestId, session: {sid, pid, rooms, data} | null, counts}``; the
    #: items are the missed packets' messages, ``counts[i]`` of them for packet i.
    RESTORED = 32


class Metrics(IntEnum):
    """Frames of a metrics scrape (``cluster/metrics.py``): one worker gathers every worker's
    counters. JSON payloads."""

    #: Worker -> all (through the master): ``{requestId}``: send me your figures. The master
    #: answers it too, with what it alone knows (workers, restarts), then relays it.
    QUERY = 40
    #: Worker or master -> the asking worker: ``{requestId, snapshot}`` (a worker's figures,
    #: ``cluster.metrics.snapshot_of``) or ``{requestId, master}`` (the master's).
    REPORT = 41


class Frame(NamedTuple):
    kind: int
    source: int
    target: int
    nsp: str
    payload: bytes


def encode_frame(kind: int, source: int, target: int, payload: bytes = b"", nsp: str = "") -> bytes:
    name = nsp.encode("utf-8")
    if len(name) > 0xFFFF:
        raise FrameError(f"namespace of {len(name)} bytes is over the 65535 limit")
    size = _BODY_HEAD.size + len(name) + len(payload)
    if size > MAX_FRAME:
        raise FrameError(f"frame of {size} bytes is over the {MAX_FRAME} limit")
    return _HEAD.pack(size, kind, source, target, len(name)) + name + payload


class FrameDecoder:
    """Feed bytes in any chunking; get whole frames (with their raw bytes, for relaying)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[Frame, bytes]]:
        """Raises FrameError for an impossible length (the stream cannot be resynchronised)."""
        buffer = self._buffer
        buffer += data
        frames: list[tuple[Frame, bytes]] = []
        offset = 0
        end = len(buffer)
        while end - offset >= _HEAD.size:
            size, kind, source, target, name_len = _HEAD.unpack_from(buffer, offset)
            if size < _BODY_HEAD.size + name_len or size > MAX_FRAME:
                raise FrameError(f"bad frame length {size}")
            total = 4 + size
            if end - offset < total:
                break
            raw = bytes(buffer[offset : offset + total])
            name_end = _HEAD.size + name_len
            try:
                nsp = raw[_HEAD.size : name_end].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FrameError("namespace is not UTF-8") from exc
            frames.append((Frame(kind, source, target, nsp, raw[name_end:]), raw))
            offset += total
        if offset:
            del buffer[:offset]
        return frames


# -- payloads ---------------------------------------------------------------------------------


def encode_json(value: Any) -> bytes:
    """Compact JSON; what JSON cannot hold (a set in ``socket.data``...) becomes its ``str``."""
    return json.dumps(value, separators=(",", ":"), default=str).encode("ascii")


#: Deepest JSON a frame's head may hold (a socket's ``data`` or an event's arguments inside it:
#: the Socket.IO decoder allows 128 levels, plus the message's own).
MAX_JSON_DEPTH = 160


def decode_json(payload: bytes) -> Any:
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise FrameError("bad JSON payload") from exc
    try:
        check_depth(value, MAX_JSON_DEPTH)
    except ValueError as exc:
        raise FrameError(str(exc)) from exc
    return value


def check_depth(value: Any, limit: int) -> None:
    """Raises ValueError if ``value``'s lists and dicts nest deeper than ``limit`` (iterative:
    the check itself cannot recurse)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise ValueError(f"JSON nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


def encode_message(message: ClusterMessage, source: int, target: int) -> bytes:
    """The frame of a cluster message from worker ``source`` (``message.uid`` is implied)."""
    data = message.data
    if message.type is MessageType.BROADCAST:
        packet = data["packet"]
        items = packet.messages if isinstance(packet, EncodedPacket) else encode_messages(packet)
        head = {key: value for key, value in data.items() if key != "packet"}
    else:
        head, items = deconstruct(data)  # type: ignore[assignment]
    return encode_frame(message.type, source, target, encode_payload(head, items), message.nsp)


def decode_message(frame: Frame) -> ClusterMessage:
    """The cluster message of a frame from a worker.

    Raises:
        FrameError: an unknown type or a malformed payload.
    """
    try:
        kind = MessageType(frame.kind)
    except ValueError:
        raise FrameError(f"unknown message type {frame.kind}") from None
    head, items = decode_payload(frame.payload)
    if kind is MessageType.BROADCAST:
        if not isinstance(head, dict):
            raise FrameError("broadcast head is not an object")
        data: Any = {**head, "packet": EncodedPacket(items)}
    else:
        if any(isinstance(item, str) for item in items):
            raise FrameError("text item outside a broadcast")
        try:
            data = reconstruct(head, items)  # type: ignore[arg-type]
        except (PacketError, RecursionError) as exc:
            raise FrameError("bad binary placeholder") from exc
    return ClusterMessage(str(frame.source), frame.nsp, kind, data)


def encode_payload(head: Any, items: list[str | bytes]) -> bytes:
    """A JSON head and text or binary items (see the module docstring)."""
    head_bytes = encode_json(head)
    parts = [_U32.pack(len(head_bytes)), head_bytes, _U32.pack(len(items))]
    for item in items:
        if isinstance(item, str):
            data = item.encode("utf-8")
            parts.append(_ITEM.pack(_TEXT, len(data)))
        else:
            data = item
            parts.append(_ITEM.pack(_BINARY, len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_payload(payload: bytes) -> tuple[Any, list[str | bytes]]:
    """Raises FrameError on truncation or bad UTF-8."""
    try:
        (head_len,) = _U32.unpack_from(payload, 0)
        head = decode_json(payload[4 : 4 + head_len])
        offset = 4 + head_len
        (count,) = _U32.unpack_from(payload, offset)
        offset += 4
        items: list[str | bytes] = []
        for _ in range(count):
            kind, size = _ITEM.unpack_from(payload, offset)
            offset += _ITEM.size
            data = payload[offset : offset + size]
            if len(data) != size:
                raise FrameError("truncated item")
            if kind != _TEXT and kind != _BINARY:
                raise FrameError(f"unknown item kind {kind}")
            offset += size
            items.append(data.decode("utf-8") if kind == _TEXT else bytes(data))
    except (struct.error, UnicodeDecodeError) as exc:
        raise FrameError("bad payload") from exc
    if offset != len(payload):
        raise FrameError("trailing bytes after the payload")
    return head, items
