"""HTTP compression of polling responses, as the reference server does it (gzip or deflate)."""

from __future__ import annotations

import zlib

__all__ = ["choose_encoding", "compress"]

_SUPPORTED = ("gzip", "deflate")


def choose_encoding(accept_encoding: str | None) -> str | None:
    """Pick gzip or deflate from an ``Accept-Encoding`` header (q-values honoured), or None."""
    if not accept_encoding:
        return None
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        weights[name] = q
    best: str | None = None
    best_q = 0.0
    for encoding in _SUPPORTED:
        q = weights.get(encoding, weights.get("*", 0.0))
        if q > best_q:
            best, best_q = encoding, q
    return best


def compress(data: bytes, encoding: str) -> bytes:
    """gzip (RFC 1952) or deflate (zlib format, RFC 1950, as browsers and node expect)."""
    wbits = 31 if encoding == "gzip" else 15
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return compressor.compress(data) + compressor.flush()
