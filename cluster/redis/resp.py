"""RESP, sans-IO: commands out (``encode_command``), replies in (``ReplyReader``, over hiredis's
``Reader``, the Redis project's own parser: bytes in, replies out, no socket).

Replies come as Python values: bulk and simple strings as ``bytes``, integers as ``int``, arrays
as ``list``, nil as ``None``, and an error reply as a ``RedisError`` instance (not raised: it is
one command's answer, the connection goes on).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hiredis

__all__ = ["ProtocolError", "RedisError", "ReplyReader", "encode_command"]


class RedisError(Exception):
    """An error reply (``-ERR ...``) to one command."""


class ProtocolError(Exception):
    """The server sent bytes that are not RESP: the connection cannot go on."""


def _arg(value: str | bytes | int | float) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bool):
        raise TypeError("a Redis argument cannot be a bool")
    return str(value).encode("ascii")


def encode_command(*args: str | bytes | int | float) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for value in args:
        data = _arg(value)
        parts.append(b"$%d\r\n" % len(data))
        parts.append(data)
        parts.append(b"\r\n")
    return b"".join(parts)


class ReplyReader:
    """Feed bytes in any chunking; iterate the complete replies."""

    __slots__ = ("_reader",)

    def __init__(self) -> None:
        self._reader = hiredis.Reader(replyError=RedisError)

    def feed(self, data: bytes) -> Iterator[Any]:
        """Raises ProtocolError on bytes that are not RESP."""
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                raise ProtocolError(str(exc)) from exc
            except TypeError as exc:  # a RESP3 map keyed by an array or a map: not for us
                raise ProtocolError(f"unusable reply: {exc}") from exc
            if reply is False:
                return
            yield reply
