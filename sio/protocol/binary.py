"""Binary attachments: ``{"_placeholder": true, "num": n}`` stand-ins, both ways. Pure functions."""

from __future__ import annotations

from typing import Any

from ..errors import PacketError
from .packet import MAX_DEPTH

__all__ = ["deconstruct", "has_binary", "reconstruct"]

_BINARY = (bytes, bytearray, memoryview)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def has_binary(data: Any, _depth: int = 0) -> bool:
    """Is there binary anywhere in ``data`` (lists, tuples and dicts are searched)?"""
    kind = type(data)
    if kind in _SCALARS:
        return False
    if isinstance(data, _BINARY):
        return True
    if _depth > MAX_DEPTH:
        raise ValueError("data nested too deeply")
    if kind is list or kind is tuple:  # the usual emit arguments: skip scalars without a call
        scalars = _SCALARS
        for item in data:  # noqa: SIM110 - a loop skips scalars without any() frame overhead
            if type(item) not in scalars and has_binary(item, _depth + 1):
                return True
        return False
    if isinstance(data, (list, tuple)):
        return any(has_binary(item, _depth + 1) for item in data)
    if isinstance(data, dict):
        return any(has_binary(item, _depth + 1) for item in data.values())
    return False


def deconstruct(data: Any) -> tuple[Any, list[bytes]]:
    """Replace every binary value by a placeholder; returns the new data and the attachments."""
    attachments: list[bytes] = []

    def walk(value: Any, depth: int) -> Any:
        if isinstance(value, _BINARY):
            attachments.append(bytes(value))
            return {"_placeholder": True, "num": len(attachments) - 1}
        if depth > MAX_DEPTH:
            raise ValueError("data nested too deeply")
        if isinstance(value, (list, tuple)):
            return [walk(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return {key: walk(item, depth + 1) for key, item in value.items()}
        return value

    return walk(data, 0), attachments


def reconstruct(data: Any, attachments: list[bytes]) -> Any:
    """Put the attachments back in place of their placeholders.

    Raises:
        PacketError: a placeholder whose ``num`` is not an integer index into ``attachments``.
    """

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, dict):
            if value.get("_placeholder") is True:
                num = value.get("num")
                if type(num) is not int or not 0 <= num < len(attachments):
                    raise PacketError("illegal attachments")
                return attachments[num]
            return {key: walk(item) for key, item in value.items()}
        return value

    return walk(data)  # depth is bounded by decode_text's MAX_DEPTH check
