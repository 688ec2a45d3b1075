"""MessagePack as ``notepack.io`` (3.x) writes and reads it, sans-IO: the payload codec of Node's
Redis adapters (``@socket.io/redis-adapter``, ``@socket.io/redis-streams-adapter``).

Encoding (``pack``) gives what notepack decodes to the same JavaScript values:

- ``None`` -> nil, ``bool``, ``int`` (smallest form; beyond 64 bits is an error), ``float``
  (always float 64, as notepack), ``str`` (fixstr/str 8/16/32), ``list``/``tuple`` -> array,
  ``dict`` -> map (keys as given, in order);
- ``bytes``/``bytearray``/``memoryview`` -> bin: notepack gives a ``Buffer``, which Socket.IO sends
  as a binary attachment.

Decoding (``unpack``) reads everything notepack writes and what its decoder accepts:

- bin -> ``bytes``; str -> ``str`` (invalid UTF-8 replaced, as ``Buffer.toString``);
- notepack's legacy extensions, type 0: ``d4 00 00`` is ``undefined`` (``None`` in an array, a
  map member left out: what ``JSON.stringify`` makes of it, so what a Socket.IO client would
  get); any other type-0 extension is an ``ArrayBuffer`` (``bytes``). msgpack-python hands
  both over as ``(0, data)``: a one-byte type-0 extension is read as ``undefined`` (an encoder
  writing a one-byte ``ArrayBuffer`` as ``c7 01 00 xx`` would be misread; none does), and the
  legacy 8-byte date (``d7 00``) as the bytes of an ``ArrayBuffer``;
- timestamps (extension -1) -> the ISO string ``Date.toJSON`` gives (``2024-01-02T03:04:05.678Z``);
- other extensions -> ``[type, bytes]``, as notepack.

Limits: nesting deeper than ``MAX_DEPTH`` (arrays and maps), malformed input, trailing bytes,
map keys other than strings: ``NotepackError`` (a ``ValueError``), never another exception.
Lengths are bounded by the input's size (no allocation on a forged length).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgpack

__all__ = ["MAX_DEPTH", "NotepackError", "check_depth", "pack", "unpack"]

#: Arrays and maps one in the other accepted at most: the deepest Socket.IO payload our packet
#: decoder takes (128) inside an adapter's envelope (a few levels), with room to spare.
MAX_DEPTH = 160


class NotepackError(ValueError):
    """Not MessagePack that notepack.io would read, or beyond the limits."""


class _Undefined:
    """notepack's legacy ``undefined`` while decoding (never returned)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"


_UNDEFINED = _Undefined()


def _ext(code: int, data: bytes) -> Any:
    if code == 0:
        if len(data) == 1:
            return _UNDEFINED
        return data  # an ArrayBuffer
    return [code, data]


def _iso(value: datetime) -> str:
    """``Date.prototype.toJSON``: UTC, milliseconds, ``Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})


def _settle(value: Any, depth: int) -> Any:
    """Check the depth of a decoded container, and put JavaScript's values in place of the
    markers (``undefined``, dates), in place."""
    if depth >= MAX_DEPTH:
        raise NotepackError(f"nested deeper than {MAX_DEPTH}")
    scalars = _SCALARS
    if type(value) is list:
        for index, item in enumerate(value):
            kind = type(item)
            if kind in scalars:
                continue
            if kind is list or kind is dict:
                _settle(item, depth + 1)
            elif item is _UNDEFINED:
                value[index] = None
            elif kind is datetime:
                value[index] = _iso(item)
        return value
    undefined: list[str] | None = None
    for key, item in value.items():
        kind = type(item)
        if kind in scalars:
            continue
        if kind is list or kind is dict:
            _settle(item, depth + 1)
        elif item is _UNDEFINED:
            undefined = [*(undefined or ()), key]
        elif kind is datetime:
            value[key] = _iso(item)
    if undefined:
        for key in undefined:
            del value[key]
    return value


def check_depth(value: Any) -> Any:
    """``value`` (from ``unpack`` or ``json.loads``), checked to nest at most ``MAX_DEPTH``
    deep; returns it.

    Raises:
        NotepackError: nested deeper.
    """
    kind = type(value)
    if kind is list or kind is dict:
        return _settle(value, 0)
    return value


def unpack(data: bytes | bytearray | memoryview) -> Any:
    """One value, as notepack.io's ``decode`` reads it (see the module docstring).

    Raises:
        NotepackError: not one well-formed value within the limits.
    """
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            unicode_errors="replace",
            strict_map_key=True,
            ext_hook=_ext,
            timestamp=3,
        )
    except msgpack.ExtraData as exc:
        raise NotepackError("trailing bytes") from exc
    except (ValueError, TypeError, OverflowError) as exc:  # StackError, FormatError included
        raise NotepackError(f"not MessagePack: {exc or type(exc).__name__}") from exc
    kind = type(value)
    if kind is list or kind is dict:
        return _settle(value, 0)
    if value is _UNDEFINED:
        return None
    if kind is datetime:
        return _iso(value)
    return value


def pack(value: Any) -> bytes:
    """``value`` as notepack.io decodes it back (see the module docstring).

    Raises:
        TypeError: a value of another type (as ``json.dumps``).
        NotepackError: an integer beyond 64 bits, a string that is not Unicode text (a lone
            surrogate), or nesting beyond msgpack's recursion limit (a cycle).
    """
    try:
        packed: bytes = msgpack.packb(value, use_bin_type=True)
    except (OverflowError, UnicodeEncodeError) as exc:
        raise NotepackError(str(exc)) from exc
    except ValueError as exc:  # "recursion limit exceeded"
        raise NotepackError(str(exc)) from exc
    return packed
