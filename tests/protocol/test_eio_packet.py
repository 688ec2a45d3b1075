"""Engine.IO packets: every wire case runs both ways (h11 ``SIMPLE_CASES`` style).

Packets leave already encoded (the session queues ``"4hello"``, ``"2"``, raw bytes), so the
encode direction is the polling payload's: a queued packet becomes its payload element.
"""

from __future__ import annotations

import pytest

from eio.errors import ParseError, RemoteProtocolError
from eio.protocol.packet import Packet, PacketType, decode_packet
from eio.protocol.payload import encode_payload

# (id, packet, websocket frame (str: text frame, bytes: binary frame), polling payload element)
WIRE_CASES: list[tuple[str, Packet, str | bytes, str]] = [
    ("open", Packet(PacketType.OPEN, '{"sid":"s1"}'), '0{"sid":"s1"}', '0{"sid":"s1"}'),
    ("open-empty", Packet(PacketType.OPEN), "0", "0"),
    ("close", Packet(PacketType.CLOSE), "1", "1"),
    ("ping", Packet(PacketType.PING), "2", "2"),
    ("ping-probe", Packet(PacketType.PING, "probe"), "2probe", "2probe"),
    ("pong", Packet(PacketType.PONG), "3", "3"),
    ("pong-probe", Packet(PacketType.PONG, "probe"), "3probe", "3probe"),
    ("message", Packet(PacketType.MESSAGE, "hello"), "4hello", "4hello"),
    ("message-empty", Packet(PacketType.MESSAGE, ""), "4", "4"),
    ("message-euro", Packet(PacketType.MESSAGE, "€"), "4€", "4€"),
    ("message-emoji", Packet(PacketType.MESSAGE, "hi 😀"), "4hi 😀", "4hi 😀"),
    ("message-digits", Packet(PacketType.MESSAGE, "42"), "442", "442"),
    ("message-starts-with-b", Packet(PacketType.MESSAGE, "bAQID"), "4bAQID", "4bAQID"),
    (
        "message-json",
        Packet(PacketType.MESSAGE, '["a",{"b":1}]'),
        '4["a",{"b":1}]',
        '4["a",{"b":1}]',
    ),
    ("upgrade", Packet(PacketType.UPGRADE), "5", "5"),
    ("noop", Packet(PacketType.NOOP), "6", "6"),
    ("binary", Packet(PacketType.MESSAGE, b"\x01\x02\x03"), b"\x01\x02\x03", "bAQID"),
    ("binary-empty", Packet(PacketType.MESSAGE, b""), b"", "b"),
    ("binary-padded", Packet(PacketType.MESSAGE, b"\x01"), b"\x01", "bAQ=="),
    ("binary-not-utf8", Packet(PacketType.MESSAGE, b"\xff\xfe\x00"), b"\xff\xfe\x00", "b//4A"),
    ("binary-ascii", Packet(PacketType.MESSAGE, b"4hello"), b"4hello", "bNGhlbGxv"),
]

_IDS = [case[0] for case in WIRE_CASES]


@pytest.mark.parametrize(("name", "packet", "frame", "text"), WIRE_CASES, ids=_IDS)
def test_eio_packet_decode_websocket_frame(
    name: str, packet: Packet, frame: str | bytes, text: str
) -> None:
    decoded = decode_packet(frame)
    assert decoded == packet
    assert decoded.type is packet.type
    assert type(decoded.data) is type(packet.data)


@pytest.mark.parametrize(("name", "packet", "frame", "text"), WIRE_CASES, ids=_IDS)
def test_eio_packet_encode_for_polling(
    name: str, packet: Packet, frame: str | bytes, text: str
) -> None:
    # The websocket form is what a session queues; alone in a payload it is its element.
    assert encode_payload([frame]) == text


@pytest.mark.parametrize(("name", "packet", "frame", "text"), WIRE_CASES, ids=_IDS)
def test_eio_packet_decode_polling_element(
    name: str, packet: Packet, frame: str | bytes, text: str
) -> None:
    decoded = decode_packet(text)
    assert decoded == packet
    assert decoded.type is packet.type
    assert type(decoded.data) is type(packet.data)


def test_eio_packet_types_are_the_seven_of_the_protocol() -> None:
    assert [(t.name, int(t)) for t in PacketType] == [
        ("OPEN", 0),
        ("CLOSE", 1),
        ("PING", 2),
        ("PONG", 3),
        ("MESSAGE", 4),
        ("UPGRADE", 5),
        ("NOOP", 6),
    ]


def test_eio_packet_default_data_is_empty_text() -> None:
    assert Packet(PacketType.NOOP).data == ""


@pytest.mark.parametrize(
    "frame",
    [bytearray(b"\x00\x01"), memoryview(b"\x00\x01")],
    ids=["bytearray", "memoryview"],
)
def test_eio_packet_decode_binary_buffer_gives_bytes(frame: bytearray | memoryview) -> None:
    decoded = decode_packet(frame)  # type: ignore[arg-type]
    assert decoded == Packet(PacketType.MESSAGE, b"\x00\x01")
    assert type(decoded.data) is bytes


def test_eio_packet_decode_keeps_separator_and_newlines_in_data() -> None:
    # Splitting payloads is payload.py's job; one packet keeps whatever follows its type.
    assert decode_packet("4a\nb\x1ec") == Packet(PacketType.MESSAGE, "a\nb\x1ec")


MALFORMED = [
    ("empty", ""),
    ("type-7", "7"),
    ("type-9", "9hello"),
    ("letter", "x"),
    ("leading-space", " 4hello"),
    ("arabic-indic-digit", "\u06644"),
    ("fullwidth-digit", "\uff14hello"),
    ("base64-bad-char", "b!!!"),
    ("base64-non-ascii", "b€"),
    ("base64-bad-padding", "bAQ"),
    ("base64-excess-after-padding", "bAQ==AQ=="),
    ("base64-whitespace", "bAQ ID"),
    ("base64-newline", "bAQID\n"),
]


@pytest.mark.parametrize("encoded", [case[1] for case in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_eio_packet_decode_malformed_raises_parse_error(encoded: str) -> None:
    with pytest.raises(ParseError) as info:
        decode_packet(encoded)
    assert isinstance(info.value, RemoteProtocolError)
    assert info.value.decoded == []


def test_eio_packet_decode_error_names_the_bad_type() -> None:
    with pytest.raises(ParseError, match="'x'"):
        decode_packet("xyz")


def test_eio_packet_decode_bad_base64_says_so() -> None:
    with pytest.raises(ParseError, match="base64"):
        decode_packet("b!!!")
