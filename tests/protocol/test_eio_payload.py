"""Engine.IO polling payloads: packets joined by ``\\x1e``, binary as ``b<base64>``."""

from __future__ import annotations

import pytest

from eio.errors import ParseError
from eio.protocol.packet import Packet, PacketType
from eio.protocol.payload import SEPARATOR, decode_payload, encode_payload

MSG = PacketType.MESSAGE

# (id, items the session queues (str: encoded text packet, bytes: binary message), body, packets)
PAYLOAD_CASES: list[tuple[str, list[str | bytes], str, list[Packet]]] = [
    ("one", ["4hello"], "4hello", [Packet(MSG, "hello")]),
    (
        "two-texts",
        ["4hello", "4€"],
        "4hello\x1e4€",
        [Packet(MSG, "hello"), Packet(MSG, "€")],
    ),
    (
        "mixed-text-binary",
        ["4a", b"\x01\x02\x03", "4b"],
        "4a\x1ebAQID\x1e4b",
        [Packet(MSG, "a"), Packet(MSG, b"\x01\x02\x03"), Packet(MSG, "b")],
    ),
    ("binary-only", [b"\xff"], "b/w==", [Packet(MSG, b"\xff")]),
    ("empty-binary", [b""], "b", [Packet(MSG, b"")]),
    (
        "control-packets",
        ["2", "6", "1"],
        "2\x1e6\x1e1",
        [Packet(PacketType.PING), Packet(PacketType.NOOP), Packet(PacketType.CLOSE)],
    ),
    (
        "empty-messages",
        ["4", "4"],
        "4\x1e4",
        [Packet(MSG, ""), Packet(MSG, "")],
    ),
    (
        "emoji",
        ["4😀", "3"],
        "4😀\x1e3",
        [Packet(MSG, "😀"), Packet(PacketType.PONG)],
    ),
]
_IDS = [case[0] for case in PAYLOAD_CASES]


def test_eio_payload_separator_is_record_separator() -> None:
    assert SEPARATOR == "\x1e" == chr(30)


@pytest.mark.parametrize(("name", "items", "body", "packets"), PAYLOAD_CASES, ids=_IDS)
def test_eio_payload_encode(
    name: str, items: list[str | bytes], body: str, packets: list[Packet]
) -> None:
    assert encode_payload(items) == body


@pytest.mark.parametrize(("name", "items", "body", "packets"), PAYLOAD_CASES, ids=_IDS)
def test_eio_payload_encode_accepts_any_iterable(
    name: str, items: list[str | bytes], body: str, packets: list[Packet]
) -> None:
    assert encode_payload(iter(items)) == body


@pytest.mark.parametrize(("name", "items", "body", "packets"), PAYLOAD_CASES, ids=_IDS)
def test_eio_payload_decode_text(
    name: str, items: list[str | bytes], body: str, packets: list[Packet]
) -> None:
    decoded = decode_payload(body)
    assert decoded == packets
    assert [type(p.data) for p in decoded] == [type(p.data) for p in packets]


@pytest.mark.parametrize(("name", "items", "body", "packets"), PAYLOAD_CASES, ids=_IDS)
def test_eio_payload_decode_utf8_bytes(
    name: str, items: list[str | bytes], body: str, packets: list[Packet]
) -> None:
    assert decode_payload(body.encode("utf-8")) == packets


@pytest.mark.parametrize(("name", "items", "body", "packets"), PAYLOAD_CASES, ids=_IDS)
def test_eio_payload_round_trip_through_websocket_encoding(
    name: str, items: list[str | bytes], body: str, packets: list[Packet]
) -> None:
    # What a websocket would carry, frame by frame, is what the payload carries, joined.
    assert [_as_frame(p) for p in decode_payload(body)] == items


def _as_frame(packet: Packet) -> str | bytes:
    """A packet as one websocket frame: its type digit and text, or its bytes."""
    if isinstance(packet.data, bytes):
        return packet.data
    return str(int(packet.type)) + packet.data


def test_eio_payload_empty_iterable_encodes_to_empty_body() -> None:
    assert encode_payload([]) == ""


@pytest.mark.parametrize("body", ["", b""], ids=["str", "bytes"])
def test_eio_payload_decode_empty_body_raises(body: str | bytes) -> None:
    with pytest.raises(ParseError) as info:
        decode_payload(body)
    assert info.value.decoded == []


@pytest.mark.parametrize(
    "body",
    [b"4\xff", b"\xc3\x28", b"4ok\x1e4\xe2\x82"],
    ids=["invalid-byte", "bad-continuation", "truncated-euro"],
)
def test_eio_payload_decode_non_utf8_raises_with_nothing_decoded(body: bytes) -> None:
    with pytest.raises(ParseError, match="UTF-8") as info:
        decode_payload(body)
    assert info.value.decoded == []


BAD_THIRD = [
    ("unknown-type", "4one\x1e4two\x1ex"),
    ("empty-element", "4one\x1e4two\x1e"),
    ("bad-base64", "4one\x1e4two\x1eb!!"),
    ("bad-then-good", "4one\x1e4two\x1e9\x1e4four"),
]


@pytest.mark.parametrize("body", [c[1] for c in BAD_THIRD], ids=[c[0] for c in BAD_THIRD])
def test_eio_payload_bad_third_packet_keeps_first_two(body: str) -> None:
    with pytest.raises(ParseError) as info:
        decode_payload(body)
    assert info.value.decoded == [Packet(MSG, "one"), Packet(MSG, "two")]
    assert isinstance(info.value.__cause__, ParseError)


def test_eio_payload_bad_first_packet_keeps_nothing() -> None:
    with pytest.raises(ParseError) as info:
        decode_payload("\x1e4two")
    assert info.value.decoded == []
