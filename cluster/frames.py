"""The cluster bus framing, sans-IO: length-prefixed frames between workers and the master.

    frame   = length:u32 | kind:u8 | source:u16 | target:u16 | payload
    (length counts everything after itself)

The master relays frames by looking only at ``target`` (a worker id, or ``ALL``): it never
decodes payloads. Broadcast payloads carry the packet already encoded by the sending worker
(Engine.IO messages, text as UTF-8 and binary as is), so no worker serialises it again; other
payloads are compact JSON. Nothing is pickled.
"""

from __future__ import annotations

import json
import struct
from enum import IntEnum
from typing import Any, NamedTuple

__all__ = [
    "ALL",
    "MASTER",
    "MAX_FRAME",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "Kind",
    "decode_broadcast",
    "decode_json",
    "encode_broadcast",
    "encode_frame",
    "encode_json",
]

#: Target meaning "every worker but the sender".
ALL = 0xFFFF
#: Source id of frames the master itself sends.
MASTER = 0
#: Largest frame accepted (a broadcast of a maximum-size message with room to spare).
MAX_FRAME = 64 * 1024 * 1024

_HEAD = struct.Struct("!IBHH")
_BODY_HEAD = struct.Struct("!BHH")
_U32 = struct.Struct("!I")
_ITEM = struct.Struct("!BI")


class FrameError(Exception):
    """A malformed frame: the link it came from is broken and must be dropped."""


class Kind(IntEnum):
    #: Worker -> all: deliver an encoded packet to matching sockets.
    BROADCAST = 1
    #: Worker -> all: make matching sockets join (``rooms``) / leave / disconnect.
    SOCKETS_JOIN = 2
    SOCKETS_LEAVE = 3
    DISCONNECT_SOCKETS = 4
    #: Worker -> all, then each -> requester: describe matching sockets.
    FETCH_SOCKETS = 5
    FETCH_SOCKETS_RESPONSE = 6
    #: Worker -> all: an event for the other servers' handlers; responses carry acks.
    SERVER_SIDE_EMIT = 7
    SERVER_SIDE_EMIT_RESPONSE = 8
    #: Master -> worker: your id and the ids of the live workers; a worker came or went.
    HELLO = 20
    WORKER_UP = 21
    WORKER_DOWN = 22


class Frame(NamedTuple):
    kind: int
    source: int
    target: int
    payload: bytes


def encode_frame(kind: int, source: int, target: int, payload: bytes = b"") -> bytes:
    size = _BODY_HEAD.size + len(payload)
    if size > MAX_FRAME:
        raise FrameError(f"frame of {size} bytes is over the {MAX_FRAME} limit")
    return _HEAD.pack(size, kind, source, target) + payload


def retarget(frame_bytes: bytes, target: int) -> bytes:
    """The same frame with another target (the master does not rebuild payloads)."""
    return frame_bytes[:7] + struct.pack("!H", target) + frame_bytes[9:]


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
            (size,) = _U32.unpack_from(buffer, offset)
            if size < _BODY_HEAD.size or size > MAX_FRAME:
                raise FrameError(f"bad frame length {size}")
            total = 4 + size
            if end - offset < total:
                break
            kind, source, target = _BODY_HEAD.unpack_from(buffer, offset + 4)
            raw = bytes(buffer[offset : offset + total])
            frames.append((Frame(kind, source, target, raw[_HEAD.size :]), raw))
            offset += total
        if offset:
            del buffer[:offset]
        return frames


# -- payloads ---------------------------------------------------------------------------------


def encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")


def decode_json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise FrameError("bad JSON payload") from exc


def encode_broadcast(header: dict[str, Any], items: list[str | bytes]) -> bytes:
    """A broadcast: its JSON header (namespace, rooms, flags) and the encoded messages."""
    head = encode_json(header)
    parts = [_U32.pack(len(head)), head, _U32.pack(len(items))]
    for item in items:
        if isinstance(item, str):
            data = item.encode("utf-8")
            parts.append(_ITEM.pack(0, len(data)))
        else:
            data = item
            parts.append(_ITEM.pack(1, len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_broadcast(payload: bytes) -> tuple[dict[str, Any], list[str | bytes]]:
    """Raises FrameError on truncation or bad UTF-8."""
    try:
        (head_len,) = _U32.unpack_from(payload, 0)
        header = decode_json(payload[4 : 4 + head_len])
        offset = 4 + head_len
        (count,) = _U32.unpack_from(payload, offset)
        offset += 4
        items: list[str | bytes] = []
        for _ in range(count):
            kind, size = _ITEM.unpack_from(payload, offset)
            offset += _ITEM.size
            data = payload[offset : offset + size]
            if len(data) != size:
                raise FrameError("truncated broadcast item")
            offset += size
            items.append(data.decode("utf-8") if kind == 0 else bytes(data))
    except (struct.error, UnicodeDecodeError) as exc:
        raise FrameError("bad broadcast payload") from exc
    if not isinstance(header, dict):
        raise FrameError("broadcast header is not an object")
    return header, items
