"""MessagePack as ``notepack.io`` writes and reads it, sans-IO: the payload codec of Node's
Redis adapters (``@socket.io/redis-adapter``, ``@socket.io/redis-streams-adapter``, notepack
3.x) and of ``socket.io-msgpack-parser`` (notepack 2.2; ``msgpack_parser.py``).

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

Strict reading (``unpack(strict=True)``, the msgpack parser's): only notepack's own extension
(type 0: ``undefined``, ``ArrayBuffer``) is accepted; any other extension, a timestamp included,
is a ``NotepackError``.

Limits: nesting deeper than ``MAX_DEPTH`` (arrays and maps; or the ``max_depth`` given),
malformed input, trailing bytes, map keys other than strings: ``NotepackError`` (a
``ValueError``), never another exception. Lengths are bounded by the input's size (no allocation
on a forged length).

The ``msgpack`` library is imported on first use, not with this module: the core installs
without it (the ``[msgpack]`` and ``[redis]`` extras bring it). ``require_msgpack`` says clearly
when it is missing.
"""

from __future__ import annotations

from datetime import datetime
from types import ModuleType
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MsgpackMissingError",
    "NotepackError",
    "check_depth",
    "pack",
    "require_msgpack",
    "unpack",
]

#: Arrays and maps one in the other accepted at most: the deepest Socket.IO payload our packet
#: decoder takes (128) inside an adapter's envelope (a few levels), with room to spare.
MAX_DEPTH = 160


class NotepackError(ValueError):
    """Not MessagePack that notepack.io would read, or beyond the limits."""


#: The msgpack module, once loaded (``_load``).
_msgpack: ModuleType | None = None


class MsgpackMissingError(ImportError):
    """The ``msgpack`` package is not installed."""


def require_msgpack() -> ModuleType:
    """The ``msgpack`` module.

    Raises:
        MsgpackMissingError: it is not installed (with how to install it).
    """
    try:
        import msgpack
    except ImportError as exc:
        raise MsgpackMissingError(
            "MessagePack needs the msgpack package: pip install 'sio-chat[msgpack]'"
        ) from exc
    module: ModuleType = msgpack
    return module


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


def _ext_strict(code: int, data: bytes) -> Any:
    if code == 0:
        if len(data) == 1:
            return _UNDEFINED
        return data  # an ArrayBuffer
    raise NotepackError(f"extension type {code}")


def _iso(value: datetime) -> str:
    """``Date.prototype.toJSON``: UTC, milliseconds, ``Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})


def _settle(value: Any, depth: int, limit: int = MAX_DEPTH, strict: bool = False) -> Any:
    """Check the depth of a decoded container, and put JavaScript's values in place of the
    markers (``undefined``, dates), in place; ``strict``: refuse anything else (a timestamp)."""
    if depth >= limit:
        raise NotepackError(f"nested deeper than {limit}")
    scalars = _SCALARS
    if type(value) is list:
        for index, item in enumerate(value):
            kind = type(item)
            if kind in scalars:
                continue
            if kind is list or kind is dict:
                _settle(item, depth + 1, limit, strict)
            elif item is _UNDEFINED:
                value[index] = None
            elif strict:
                raise NotepackError(f"unexpected {kind.__name__}")
            elif kind is datetime:
                value[index] = _iso(item)
        return value
    undefined: list[str] | None = None
    for key, item in value.items():
        if type(key) is not str:  # msgpack-python lets bytes through; notepack writes strings
            raise NotepackError("a map key that is not a string")
        kind = type(item)
        if kind in scalars:
            continue
        if kind is list or kind is dict:
            _settle(item, depth + 1, limit, strict)
        elif item is _UNDEFINED:
            undefined = [*(undefined or ()), key]
        elif strict:
            raise NotepackError(f"unexpected {kind.__name__}")
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


def unpack(
    data: bytes | bytearray | memoryview, *, strict: bool = False, max_depth: int = MAX_DEPTH
) -> Any:
    """One value, as notepack.io's ``decode`` reads it (see the module docstring); ``strict``:
    no extension but notepack's own (type 0).

    Raises:
        NotepackError: not one well-formed value within the limits.
        MsgpackMissingError: the msgpack package is not installed.
    """
    msgpack = _msgpack or _load()
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            unicode_errors="replace",
            strict_map_key=True,
            ext_hook=_ext_strict if strict else _ext,
            # Strict: a timestamp stays a ``Timestamp``, which ``_settle`` does not know.
            timestamp=0 if strict else 3,
        )
    except NotepackError:
        raise
    except msgpack.ExtraData as exc:
        raise NotepackError("trailing bytes") from exc
    except (ValueError, TypeError, OverflowError) as exc:  # StackError, FormatError included
        raise NotepackError(f"not MessagePack: {exc or type(exc).__name__}") from exc
    kind = type(value)
    if kind is list or kind is dict:
        return _settle(value, 0, max_depth, strict)
    if value is _UNDEFINED:
        return None
    if strict and kind not in _SCALARS:
        raise NotepackError(f"unexpected {kind.__name__}")
    if kind is datetime:
        return _iso(value)
    return value


def pack(value: Any) -> bytes:
    """``value`` as notepack.io decodes it back (see the module docstring).

    Raises:
        TypeError: a value of another type (as ``json.dumps``).
        NotepackError: an integer beyond 64 bits, a string that is not Unicode text (a lone
            surrogate), or nesting beyond msgpack's recursion limit (a cycle).
        MsgpackMissingError: the msgpack package is not installed.
    """
    msgpack = _msgpack or _load()
    try:
        packed: bytes = msgpack.packb(value, use_bin_type=True)
    except (OverflowError, UnicodeEncodeError) as exc:
        raise NotepackError(str(exc)) from exc
    except ValueError as exc:  # "recursion limit exceeded"
        raise NotepackError(str(exc)) from exc
    return packed


def _load() -> ModuleType:
    global _msgpack
    _msgpack = require_msgpack()
    return _msgpack
