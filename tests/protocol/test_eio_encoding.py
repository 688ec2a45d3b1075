"""HTTP compression of polling responses: picking gzip or deflate, and producing it."""

from __future__ import annotations

import gzip
import zlib

import pytest

from eio.protocol.encoding import choose_encoding, compress

# (id, Accept-Encoding header, chosen encoding)
CHOICES: list[tuple[str, str | None, str | None]] = [
    ("absent", None, None),
    ("empty", "", None),
    ("gzip", "gzip", "gzip"),
    ("deflate", "deflate", "deflate"),
    ("browser", "gzip, deflate, br, zstd", "gzip"),
    ("tie-prefers-gzip", "deflate, gzip", "gzip"),
    ("identity-only", "identity", None),
    ("br-only", "br", None),
    ("case-insensitive", "GZip", "gzip"),
    ("spaces", "  deflate  ,  br ", "deflate"),
    ("q-prefers-deflate", "gzip;q=0.5, deflate;q=0.8", "deflate"),
    ("q-with-space", "gzip; q=0.5, deflate; q=0.9", "deflate"),
    ("q-zero-refuses", "gzip;q=0, deflate;q=0", None),
    ("q-zero-gzip", "gzip;q=0, deflate", "deflate"),
    ("bad-q-refuses", "gzip;q=abc, deflate;q=0.1", "deflate"),
    ("star", "*", "gzip"),
    ("star-q", "*;q=0.3, deflate;q=0.2", "gzip"),
    ("star-but-not-gzip", "gzip;q=0, *", "deflate"),
    ("star-zero", "*;q=0", None),
    ("exact-beats-star", "*;q=0.9, deflate;q=1.0", "deflate"),
    ("other-params-ignored", "gzip;level=1", "gzip"),
    ("empty-items", ",,gzip,,", "gzip"),
]


@pytest.mark.parametrize(
    ("header", "expected"), [c[1:] for c in CHOICES], ids=[c[0] for c in CHOICES]
)
def test_eio_encoding_choose(header: str | None, expected: str | None) -> None:
    assert choose_encoding(header) == expected


DATA = ("4" + "hello world " * 200).encode()


def test_eio_encoding_gzip_is_rfc1952() -> None:
    compressed = compress(DATA, "gzip")
    assert compressed[:2] == b"\x1f\x8b"
    assert gzip.decompress(compressed) == DATA
    assert len(compressed) < len(DATA)


def test_eio_encoding_deflate_is_zlib_format() -> None:
    compressed = compress(DATA, "deflate")
    assert zlib.decompress(compressed) == DATA  # RFC 1950 header + adler32, not raw deflate
    assert compressed[0] & 0x0F == 8  # CM = deflate


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_eio_encoding_empty_body_round_trips(encoding: str) -> None:
    compressed = compress(b"", encoding)
    wbits = 31 if encoding == "gzip" else 15
    assert zlib.decompress(compressed, wbits) == b""


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_eio_encoding_output_decodes_in_small_chunks(encoding: str) -> None:
    # A client reading 10 bytes at a time gets the same body back.
    compressed = compress(DATA, encoding)
    decoder = zlib.decompressobj(31 if encoding == "gzip" else 15)
    out = b"".join(
        decoder.decompress(compressed[i : i + 10]) for i in range(0, len(compressed), 10)
    )
    assert out + decoder.flush() == DATA
    assert decoder.eof
