"""``PacketDecoder`` (Engine.IO messages in, packets out) and ``encode_messages`` (the reverse)."""

from __future__ import annotations

from typing import Any

import pytest

from sio.errors import PacketError
from sio.protocol.decoder import PacketDecoder
from sio.protocol.encoder import encode_messages
from sio.protocol.packet import (
    MAX_ATTACHMENTS,
    MAX_DEPTH,
    Packet,
    PacketType,
    decode_text,
    dumps,
)

EVENT = PacketType.EVENT
ACK = PacketType.ACK


def placeholder(num: int) -> dict[str, Any]:
    return {"_placeholder": True, "num": num}


def binary_header(kind: str, data: list[Any], count: int, prefix: str = "") -> str:
    """``<kind><count>-<prefix><JSON>``, e.g. ``binary_header("5", ["a"], 1, "/admin,")``."""
    return f"{kind}{count}-{prefix}{dumps(data)}"


def feed(decoder: PacketDecoder, messages: list[str | bytes]) -> list[Packet | None]:
    return [
        decoder.receive_text(m) if isinstance(m, str) else decoder.receive_binary(m)
        for m in messages
    ]


# -- text packets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["0", '0/admin™,{"token":"x"}', "1/admin,", '2["a",1]', '2/admin,7["a"]', "31[]", '4"no"'],
)
def test_decoder_text_packets_pass_through(text: str) -> None:
    decoder = PacketDecoder()
    assert decoder.receive_text(text) == decode_text(text)
    assert decoder.pending is False


def test_decoder_invalid_text_raises_and_decoder_stays_usable() -> None:
    decoder = PacketDecoder()
    with pytest.raises(PacketError):
        decoder.receive_text('2["connect"]')
    assert decoder.pending is False
    assert decoder.receive_text('2["ok"]') == Packet(EVENT, "/", ["ok"])


# -- binary packets -----------------------------------------------------------------------------


def test_decoder_binary_event_waits_for_its_attachments() -> None:
    decoder = PacketDecoder()
    header = binary_header("5", ["a", placeholder(0), {"b": placeholder(1)}], 2, "/admin™,7")
    assert decoder.receive_text(header) is None
    assert decoder.pending is True
    assert decoder.receive_binary(b"\x01") is None
    assert decoder.pending is True
    packet = decoder.receive_binary(b"\x02\x03")
    assert decoder.pending is False
    assert packet == Packet(EVENT, "/admin™", ["a", b"\x01", {"b": b"\x02\x03"}], 7, 2)
    assert packet.type is EVENT


def test_decoder_binary_ack_becomes_ack() -> None:
    decoder = PacketDecoder()
    assert decoder.receive_text(binary_header("6", [placeholder(0), "x"], 1, "/back,127")) is None
    packet = decoder.receive_binary(b"xxx")
    assert packet == Packet(ACK, "/back", [b"xxx", "x"], 127, 1)
    assert packet.type is ACK


def test_decoder_attachments_fill_placeholders_by_num_not_arrival_order() -> None:
    decoder = PacketDecoder()
    decoder.receive_text(binary_header("5", ["e", placeholder(1), placeholder(0)], 2))
    decoder.receive_binary(b"first")
    packet = decoder.receive_binary(b"second")
    assert packet is not None
    assert packet.data == ["e", b"second", b"first"]


def test_decoder_zero_attachments_complete_at_once() -> None:
    decoder = PacketDecoder()
    assert decoder.receive_text('50-/admin,3["a"]') == Packet(EVENT, "/admin", ["a"], 3, 0)
    assert decoder.pending is False
    assert decoder.receive_text('60-1["b"]') == Packet(ACK, "/", ["b"], 1, 0)
    with pytest.raises(PacketError, match="without a binary packet"):
        decoder.receive_binary(b"late")


def test_decoder_zero_attachments_with_placeholder_raises() -> None:
    decoder = PacketDecoder()
    with pytest.raises(PacketError, match="illegal attachments"):
        decoder.receive_text(binary_header("5", ["a", placeholder(0)], 0))
    assert decoder.pending is False


def test_decoder_text_while_attachments_pending_raises() -> None:
    decoder = PacketDecoder()
    decoder.receive_text(binary_header("5", ["hello", placeholder(0)], 1))
    with pytest.raises(PacketError, match="waiting for binary"):
        decoder.receive_text('2["hello"]')
    assert decoder.pending is True


def test_decoder_text_between_two_attachments_raises() -> None:
    decoder = PacketDecoder()
    decoder.receive_text(binary_header("5", ["a", placeholder(0), placeholder(1)], 2))
    decoder.receive_binary(b"1")
    with pytest.raises(PacketError):
        decoder.receive_text("0")


def test_decoder_binary_with_nothing_pending_raises() -> None:
    with pytest.raises(PacketError, match="without a binary packet"):
        PacketDecoder().receive_binary(b"world")


def test_decoder_binary_after_completed_packet_raises() -> None:
    decoder = PacketDecoder()
    decoder.receive_text(binary_header("5", ["a", placeholder(0)], 1))
    assert decoder.receive_binary(b"1") is not None
    with pytest.raises(PacketError, match="without a binary packet"):
        decoder.receive_binary(b"2")


@pytest.mark.parametrize("bad_num", [1, -1, "0", "splice", True, None, 0.0], ids=repr)
def test_decoder_bad_placeholder_raises_and_resets(bad_num: Any) -> None:
    decoder = PacketDecoder()
    decoder.receive_text(binary_header("5", ["hello", {"_placeholder": True, "num": bad_num}], 1))
    with pytest.raises(PacketError, match="illegal attachments"):
        decoder.receive_binary(b"world")
    assert decoder.pending is False
    assert decoder.receive_text('2["next"]') == Packet(EVENT, "/", ["next"])


def test_decoder_reset_frees_a_partial_packet() -> None:
    decoder = PacketDecoder()
    decoder.receive_text('51-["hello",{"_placeholder":true,"num":0}]')
    decoder.reset()
    assert decoder.pending is False
    assert decoder.receive_text('2["hello"]') == Packet(EVENT, "/", ["hello"])


def test_decoder_reset_drops_received_attachments() -> None:
    decoder = PacketDecoder()
    decoder.receive_text(binary_header("5", ["old", placeholder(0), placeholder(1)], 2))
    decoder.receive_binary(b"stale")
    decoder.reset()
    decoder.receive_text(binary_header("5", ["new", placeholder(0)], 1))
    packet = decoder.receive_binary(b"fresh")
    assert packet == Packet(EVENT, "/", ["new", b"fresh"], None, 1)


def test_decoder_reset_when_idle_is_harmless() -> None:
    decoder = PacketDecoder()
    decoder.reset()
    assert decoder.receive_text("0") == Packet(PacketType.CONNECT)


def test_decoder_consecutive_binary_packets() -> None:
    decoder = PacketDecoder()
    results = feed(
        decoder,
        [
            binary_header("5", ["a", placeholder(0)], 1),
            b"1",
            '2["plain"]',
            binary_header("6", [placeholder(0), placeholder(1)], 2, "5"),
            b"2",
            b"3",
        ],
    )
    assert results == [
        None,
        Packet(EVENT, "/", ["a", b"1"], None, 1),
        Packet(EVENT, "/", ["plain"]),
        None,
        None,
        Packet(ACK, "/", [b"2", b"3"], 5, 2),
    ]


def test_decoder_max_attachments_parameter() -> None:
    three = binary_header("5", ["a", placeholder(0), placeholder(1), placeholder(2)], 3)
    with pytest.raises(PacketError, match="too many attachments"):
        PacketDecoder(max_attachments=2).receive_text(three)
    decoder = PacketDecoder(max_attachments=3)
    assert feed(decoder, [three, b"0", b"1", b"2"])[-1] == Packet(
        EVENT, "/", ["a", b"0", b"1", b"2"], None, 3
    )


def test_decoder_default_max_attachments() -> None:
    data = ["a", *(placeholder(n) for n in range(MAX_ATTACHMENTS + 1))]
    with pytest.raises(PacketError, match="too many attachments"):
        PacketDecoder().receive_text(binary_header("5", data, MAX_ATTACHMENTS + 1))
    decoder = PacketDecoder()
    assert decoder.receive_text(binary_header("5", data[:-1], MAX_ATTACHMENTS)) is None
    assert decoder.pending is True


def test_decoder_max_attachments_zero_refuses_any_attachment() -> None:
    decoder = PacketDecoder(max_attachments=0)
    with pytest.raises(PacketError, match="too many attachments"):
        decoder.receive_text(binary_header("5", ["a", placeholder(0)], 1))
    assert decoder.receive_text('50-["a"]') == Packet(EVENT, "/", ["a"], None, 0)


# -- encode_messages ----------------------------------------------------------------------------

# (id, packet, messages)
ENCODE_CASES: list[tuple[str, Packet, list[str | bytes]]] = [
    ("event", Packet(EVENT, "/", ["a", 1]), ['2["a",1]']),
    ("event-ns-ack", Packet(EVENT, "/admin™", ["a"], 3), ['2/admin™,3["a"]']),
    (
        "event-bytes",
        Packet(EVENT, "/", ["a", b"\x01\x02"]),
        ['51-["a",{"_placeholder":true,"num":0}]', b"\x01\x02"],
    ),
    (
        "event-ns-ack-nested",
        Packet(EVENT, "/admin™", ["a", b"x", {"y": [bytearray(b"z")]}], 15),
        [
            '52-/admin™,15["a",{"_placeholder":true,"num":0},'
            '{"y":[{"_placeholder":true,"num":1}]}]',
            b"x",
            b"z",
        ],
    ),
    ("ack", Packet(ACK, "/", [], 3), ["33[]"]),
    (
        "ack-bytes",
        Packet(ACK, "/admin", [memoryview(b"m"), "ok"], 3),
        ['61-/admin,3[{"_placeholder":true,"num":0},"ok"]', b"m"],
    ),
    ("connect", Packet(PacketType.CONNECT, "/admin", {"sid": "s"}), ['0/admin,{"sid":"s"}']),
    ("disconnect", Packet(PacketType.DISCONNECT, "/admin"), ["1/admin,"]),
    (
        "connect-error",
        Packet(PacketType.CONNECT_ERROR, "/", {"message": "no"}),
        ['4{"message":"no"}'],
    ),
]


@pytest.mark.parametrize(
    ("packet", "messages"), [c[1:] for c in ENCODE_CASES], ids=[c[0] for c in ENCODE_CASES]
)
def test_encode_messages(packet: Packet, messages: list[str | bytes]) -> None:
    result = encode_messages(packet)
    assert result == messages
    assert [type(m) for m in result] == [type(m) for m in messages]


# (id, packet, expected data after the round trip)
ROUND_TRIPS: list[tuple[str, Packet, Any]] = [
    ("text", Packet(EVENT, "/", ["chat", {"text": "héllo ™"}], 1), ["chat", {"text": "héllo ™"}]),
    ("one-attachment", Packet(EVENT, "/", ["a", b"abc"], 23), ["a", b"abc"]),
    (
        "nested-attachments",
        Packet(EVENT, "/cool", ["a", {"b": ["c", b"abc"]}, (bytearray(b"d"),)], 23),
        ["a", {"b": ["c", b"abc"]}, [b"d"]],
    ),
    ("ack-attachments", Packet(ACK, "/back", ["a", b"xxx", {}], 127), ["a", b"xxx", {}]),
    ("empty-attachment", Packet(EVENT, "/", ["e", b""]), ["e", b""]),
    (
        "max-attachments",
        Packet(EVENT, "/", ["e", *(bytes([n]) for n in range(MAX_ATTACHMENTS))]),
        ["e", *(bytes([n]) for n in range(MAX_ATTACHMENTS))],
    ),
]


@pytest.mark.parametrize(
    ("packet", "data"), [c[1:] for c in ROUND_TRIPS], ids=[c[0] for c in ROUND_TRIPS]
)
def test_encode_messages_round_trip_through_decoder(packet: Packet, data: Any) -> None:
    messages = encode_messages(packet)
    results = feed(PacketDecoder(), messages)
    assert results[:-1] == [None] * (len(messages) - 1)
    decoded = results[-1]
    assert decoded is not None
    assert (decoded.type, decoded.namespace, decoded.data, decoded.id) == (
        packet.type,
        packet.namespace,
        data,
        packet.id,
    )


def test_encode_messages_more_than_max_attachments_is_refused_by_our_decoder() -> None:
    # The encoder does not limit attachments (nor does the reference one); the peer decides.
    packet = Packet(EVENT, "/", ["e", *(b"x" for _ in range(MAX_ATTACHMENTS + 1))])
    messages = encode_messages(packet)
    assert len(messages) == MAX_ATTACHMENTS + 2
    with pytest.raises(PacketError, match="too many attachments"):
        feed(PacketDecoder(), messages)


def test_encode_messages_echoes_the_deepest_accepted_payload() -> None:
    # A payload decode_text accepts can always be sent back (no ValueError from depth checks).
    text = '2["e",' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "]"
    received = decode_text(text)
    assert encode_messages(Packet(EVENT, "/", received.data)) == [text]


def test_encode_messages_does_not_mutate_the_packet_data() -> None:
    data = ["a", {"b": b"x"}]
    encode_messages(Packet(EVENT, "/", data))
    assert data == ["a", {"b": b"x"}]
