"""Engine.IO v4 polling payloads: packets joined by the record separator ``\\x1e``."""

from __future__ import annotations

import binascii
from collections.abc import Iterable

from ..errors import ParseError
from .packet import Packet, decode_packet

__all__ = ["SEPARATOR", "decode_payload", "encode_payload"]

SEPARATOR = "\x1e"


def decode_payload(body: bytes | str, max_packets: int | None = None) -> list[Packet]:
    """Decode the body of a polling POST (or of a polling GET response, on the client side).

    ``max_packets``: refuse a payload of more packets than this (None: no limit), before
    decoding any of them.

    Raises:
        ParseError: the body is not UTF-8, holds more than ``max_packets`` packets (``decoded``
            is then empty), or one of its packets is invalid; ``decoded`` holds the
            packets before the invalid one (the reference server delivers them, then closes).
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError("payload is not valid UTF-8") from exc
    if max_packets is not None and body.count(SEPARATOR) >= max_packets:
        raise ParseError(f"payload of more than {max_packets} packets")
    packets: list[Packet] = []
    for encoded in body.split(SEPARATOR):
        try:
            packets.append(decode_packet(encoded))
        except ParseError as exc:
            raise ParseError(str(exc), list(packets)) from exc
    return packets


def encode_payload(encoded_packets: Iterable[str | bytes]) -> str:
    """Join already-encoded packets into a payload; ``bytes`` items are binary messages."""
    return SEPARATOR.join(
        item
        if isinstance(item, str)
        else "b" + binascii.b2a_base64(item, newline=False).decode("ascii")
        for item in encoded_packets
    )
