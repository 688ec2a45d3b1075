"""Sticky dispatch, sans-IO: which worker slot serves a client.

The slot depends only on the client's IP address (IPv4-mapped IPv6 counts as IPv4), through a
fixed table of ``slots``: the same address always gets the same slot, and a slot keeps its number
when its worker is replaced, so one worker dying never moves the clients of the others (which
``hash % live_workers`` would do).

Behind a reverse proxy every connection comes from the proxy, so a trusted-proxy mode reads the
client address from the first request's ``X-Forwarded-For`` or ``Forwarded`` header instead.
(That assumes one client per upstream connection: a proxy that reuses upstream connections for
several clients must not be used with it.)
"""

from __future__ import annotations

import ipaddress
import zlib

__all__ = [
    "MAX_PEEK",
    "forwarded_client",
    "head_complete",
    "normalize_ip",
    "slot_for",
]

#: Largest request head read (by peeking) to find a forwarding header.
MAX_PEEK = 16 * 1024


def normalize_ip(address: str) -> bytes:
    """The packed address; IPv4-mapped IPv6 becomes IPv4. Unparsable input is used as is."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]").split("%")[0])
    except ValueError:
        return address.encode("utf-8", "replace")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.packed


def slot_for(address: str | None, slots: int) -> int:
    """The slot (0 .. slots-1) of a client address; no address gives slot 0."""
    if slots <= 1 or not address:
        return 0
    return zlib.crc32(normalize_ip(address)) % slots


def head_complete(data: bytes) -> bool:
    """Has the whole request head (up to the blank line) arrived?"""
    return b"\r\n\r\n" in data or len(data) >= MAX_PEEK


def forwarded_client(head: bytes) -> str | None:
    """The client address a proxy put in ``X-Forwarded-For`` (first entry) or ``Forwarded``
    (first ``for=``), or None."""
    text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    forwarded_for: str | None = None
    forwarded: str | None = None
    for line in text.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        if key == "x-forwarded-for" and forwarded_for is None:
            forwarded_for = value
        elif key == "forwarded" and forwarded is None:
            forwarded = value
    if forwarded_for is not None:
        first = forwarded_for.split(",")[0].strip()
        return _strip_port(first) or None
    if forwarded is not None:
        for element in forwarded.split(",")[0].split(";"):
            key, _, value = element.strip().partition("=")
            if key.strip().lower() == "for":
                return _strip_port(value.strip().strip('"')) or None
    return None


def _strip_port(value: str) -> str:
    if value.startswith("["):  # [v6]:port
        return value[1 : value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:  # v4:port
        return value.split(":")[0]
    return value
