"""The cluster bus framing, sans-IO: frames (the namespace in their header), the decoder's
chunking, and the cluster messages (``cluster/messages.py``) in them, both ways."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from cluster import frames
from cluster.frames import (
    ALL,
    MASTER,
    MAX_FRAME,
    Control,
    Frame,
    FrameDecoder,
    FrameError,
    decode_json,
    decode_message,
    encode_frame,
    encode_json,
    encode_message,
)
from cluster.messages import ClusterMessage, EncodedPacket, MessageType
from sio.protocol import Packet, PacketType, decode_messages, encode_messages

ADMIN = "/admin™"  # not ASCII: its UTF-8 bytes are longer than its characters


def raw_frame(kind: int, source: int, target: int, nsp: bytes, payload: bytes) -> bytes:
    """A frame built by hand from the documented layout (not with the code under test)."""
    size = 7 + len(nsp) + len(payload)
    return struct.pack("!IBHHH", size, kind, source, target, len(nsp)) + nsp + payload


def raw_payload(head: Any, items: list[tuple[int, bytes]]) -> bytes:
    """A message payload by hand: head_len | head | count | (kind | size | bytes)*."""
    head_bytes = json.dumps(head, separators=(",", ":")).encode()
    parts = [struct.pack("!I", len(head_bytes)), head_bytes, struct.pack("!I", len(items))]
    for kind, data in items:
        parts += [struct.pack("!BI", kind, len(data)), data]
    return b"".join(parts)


def only_frame(raw: bytes) -> Frame:
    ((frame, again),) = FrameDecoder().feed(raw)
    assert again == raw
    return frame


# -- frames ---------------------------------------------------------------------------------------


def test_frame_layout() -> None:
    raw = encode_frame(MessageType.BROADCAST, 3, ALL, b"abc", "/a")
    # length (after itself) | type | source | target | nsp_len | nsp | payload
    assert raw == struct.pack("!IBHHH", 12, 3, 3, 0xFFFF, 2) + b"/a" + b"abc"
    assert raw == raw_frame(3, 3, ALL, b"/a", b"abc")


def test_frame_without_namespace_or_payload() -> None:
    raw = encode_frame(Control.WORKER_UP, MASTER, ALL)
    assert raw == struct.pack("!IBHHH", 7, 21, 0, 0xFFFF, 0)


@pytest.mark.parametrize("payload", [b"", b"x", bytes(range(256)) * 40])
@pytest.mark.parametrize(
    ("kind", "source", "target", "nsp"),
    [
        (Control.HELLO, MASTER, 1, ""),
        (MessageType.BROADCAST, 2, ALL, "/"),
        (MessageType.FETCH_SOCKETS_RESPONSE, 65534, 7, ADMIN),
    ],
)
def test_frame_round_trip(kind: int, source: int, target: int, nsp: str, payload: bytes) -> None:
    raw = encode_frame(kind, source, target, payload, nsp)
    decoded = FrameDecoder().feed(raw)
    assert decoded == [(Frame(kind, source, target, nsp, payload), raw)]
    assert isinstance(decoded[0][0].payload, bytes)


def test_frame_namespace_travels_in_the_header_as_utf8() -> None:
    raw = encode_frame(MessageType.SOCKETS_JOIN, 2, ALL, b"{}", ADMIN)
    name = ADMIN.encode("utf-8")
    assert len(name) > len(ADMIN)
    (name_len,) = struct.unpack_from("!H", raw, 9)
    assert name_len == len(name)
    assert raw[11 : 11 + name_len] == name
    frame = only_frame(raw)
    assert (frame.nsp, frame.payload) == (ADMIN, b"{}")


def test_frame_namespace_that_is_not_utf8_raises() -> None:
    with pytest.raises(FrameError):
        FrameDecoder().feed(raw_frame(3, 2, ALL, b"/\xff", b""))


def test_frame_decoder_byte_by_byte() -> None:
    raws = [
        encode_frame(MessageType.SOCKETS_JOIN, 1, ALL, b'{"rooms":["r"]}', ADMIN),
        encode_frame(Control.WORKER_DOWN, MASTER, 2),
    ]
    stream = b"".join(raws)
    decoder = FrameDecoder()
    got: list[tuple[Frame, bytes]] = []
    for index in range(len(stream)):
        out = decoder.feed(stream[index : index + 1])
        # A frame comes out exactly when its last byte arrives.
        boundaries = {len(raws[0]) - 1, len(stream) - 1}
        assert bool(out) == (index in boundaries), index
        got.extend(out)
    assert [raw for _frame, raw in got] == raws
    assert [(f.kind, f.nsp) for f, _raw in got] == [
        (MessageType.SOCKETS_JOIN, ADMIN),
        (Control.WORKER_DOWN, ""),
    ]


def test_frame_decoder_several_frames_in_one_chunk_and_a_partial_tail() -> None:
    raws = [
        encode_frame(MessageType.BROADCAST, 1, ALL, str(n).encode() * n, "/" * n)
        for n in range(1, 6)
    ]
    tail = encode_frame(Control.HELLO, MASTER, 1, b"tail-payload")
    decoder = FrameDecoder()
    out = decoder.feed(b"".join(raws) + tail[:6])
    assert [raw for _f, raw in out] == raws
    assert [(f.nsp, f.payload) for f, _raw in out] == [
        ("/" * n, str(n).encode() * n) for n in range(1, 6)
    ]
    assert decoder.feed(b"") == []
    assert decoder.feed(tail[6:]) == [(Frame(Control.HELLO, MASTER, 1, "", b"tail-payload"), tail)]


def test_frame_decoder_chunks_across_boundaries() -> None:
    raws = [
        encode_frame(MessageType.BROADCAST, 2, ALL, bytes([n]) * (n * 7), ADMIN if n % 2 else "/")
        for n in range(20)
    ]
    stream = b"".join(raws)
    for size in (2, 3, 5, 9, 11, 64):
        decoder = FrameDecoder()
        got: list[bytes] = []
        for offset in range(0, len(stream), size):
            got.extend(raw for _f, raw in decoder.feed(stream[offset : offset + size]))
        assert got == raws, size


@pytest.mark.parametrize(
    ("length", "name_len"),
    [(0, 0), (1, 0), (6, 0), (7, 1), (8, 5), (MAX_FRAME + 1, 0), (0xFFFFFFFF, 0)],
)
def test_frame_bad_length_raises(length: int, name_len: int) -> None:
    decoder = FrameDecoder()
    with pytest.raises(FrameError):
        decoder.feed(struct.pack("!IBHHH", length, 3, 1, 1, name_len) + b"rest")


def test_frame_bad_length_after_good_frames_raises() -> None:
    good = encode_frame(MessageType.BROADCAST, 1, ALL, b"ok", "/")
    with pytest.raises(FrameError):
        FrameDecoder().feed(good + struct.pack("!I", 2) + b"\0" * 20)


def test_frame_shortest_is_accepted() -> None:
    raw = struct.pack("!IBHHH", 7, Control.WORKER_UP, MASTER, 3, 0)
    assert FrameDecoder().feed(raw) == [(Frame(Control.WORKER_UP, MASTER, 3, "", b""), raw)]


def test_frame_header_alone_waits_for_the_rest() -> None:
    raw = encode_frame(MessageType.BROADCAST, 1, 2, b"payload", "/chat")
    decoder = FrameDecoder()
    assert decoder.feed(raw[:11]) == []  # the whole header
    assert decoder.feed(raw[11:14]) == []  # part of the namespace
    assert decoder.feed(raw[14:-1]) == []
    (frame, _raw), *_ = decoder.feed(raw[-1:])
    assert (frame.nsp, frame.payload) == ("/chat", b"payload")


def test_frame_encode_refuses_an_oversized_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "MAX_FRAME", 100)
    encode_frame(MessageType.BROADCAST, 1, ALL, b"x" * 92, "/")  # 7 + 1 + 92 = 100
    with pytest.raises(FrameError):
        encode_frame(MessageType.BROADCAST, 1, ALL, b"x" * 93, "/")
    big = ClusterMessage("1", "/", MessageType.SERVER_SIDE_EMIT, {"packet": ["e", b"x" * 100]})
    with pytest.raises(FrameError):
        encode_message(big, 1, ALL)


def test_frame_decoder_refuses_an_oversized_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = encode_frame(MessageType.BROADCAST, 1, ALL, b"x" * 93, "/")
    monkeypatch.setattr(frames, "MAX_FRAME", 100)
    with pytest.raises(FrameError):
        FrameDecoder().feed(raw)


def test_frame_encode_refuses_a_namespace_over_64_kib() -> None:
    encode_frame(MessageType.BROADCAST, 1, ALL, b"", "/" * 0xFFFF)
    with pytest.raises(FrameError):
        encode_frame(MessageType.BROADCAST, 1, ALL, b"", "/" * 0x10000)


# -- JSON -----------------------------------------------------------------------------------------


def test_json_round_trip_is_compact() -> None:
    body = {"workers": [1, 2], "rooms": ["a", "é"], "n": 1, "ok": True, "none": None}
    raw = encode_json(body)
    assert b" " not in raw
    assert decode_json(raw) == body


def test_json_of_unknown_types_is_their_string() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing"

    assert decode_json(encode_json({"x": Thing()})) == {"x": "thing"}


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[1,", b"[" * 100_000])
def test_json_bad_raises_frame_error(raw: bytes) -> None:
    with pytest.raises(FrameError):
        decode_json(raw)


# -- cluster messages -----------------------------------------------------------------------------

OPTS = {"rooms": ["a", "é"], "except": ["b"], "flags": {"volatile": True, "timeout": 1500}}
HANDSHAKE = {"headers": {"host": "x"}, "query": {"EIO": "4"}, "auth": {}, "address": "::1"}

#: Every message type with data of the shape Node gives it; binaries wherever data can hold
#: them. (BROADCAST is built with an EncodedPacket: it decodes as one.)
MESSAGES: dict[MessageType, list[Any]] = {
    MessageType.INITIAL_HEARTBEAT: [None],
    MessageType.HEARTBEAT: [None],
    MessageType.BROADCAST: [
        {"packet": EncodedPacket(['42["m","é"]']), "opts": OPTS},
        {
            "packet": EncodedPacket(['451-["m",{"_placeholder":true,"num":0}]', b"\x00\xff"]),
            "opts": {"rooms": [], "except": [], "flags": {}},
            "requestId": "0123456789abcdef",
        },
    ],
    MessageType.SOCKETS_JOIN: [{"opts": OPTS, "rooms": ["green", "ü"]}],
    MessageType.SOCKETS_LEAVE: [{"opts": OPTS, "rooms": ["green"]}],
    MessageType.DISCONNECT_SOCKETS: [{"opts": OPTS, "close": True}],
    MessageType.FETCH_SOCKETS: [{"opts": OPTS, "requestId": "r1"}],
    MessageType.FETCH_SOCKETS_RESPONSE: [
        {
            "requestId": "r1",
            "sockets": [
                {
                    "id": "s1",
                    "handshake": HANDSHAKE,
                    "rooms": ["s1", "red"],
                    "data": {"avatar": b"\x89PNG\x00", "name": "ann"},
                },
                {"id": "s2", "handshake": HANDSHAKE, "rooms": ["s2"], "data": {}},
            ],
        },
        {"requestId": "r1", "sockets": []},
    ],
    MessageType.SERVER_SIDE_EMIT: [
        {"packet": ["ping", 1, "é", {"blob": b"\x00\x01", "more": [b"", b"\xff"]}]},
        {"packet": ["ping"], "requestId": "r2"},
    ],
    MessageType.SERVER_SIDE_EMIT_RESPONSE: [
        {"requestId": "r2", "packet": {"worker": 2, "raw": b"\xfe"}},
        {"requestId": "r2"},  # answered, with nothing (a namespace it does not have)
    ],
    MessageType.BROADCAST_CLIENT_COUNT: [{"requestId": "r3", "clientCount": 3}],
    MessageType.BROADCAST_ACK: [
        {"requestId": "r3", "packet": b"\x00ack"},
        {"requestId": "r3", "packet": ["x", {"y": None}]},
    ],
    MessageType.ADAPTER_CLOSE: [None],
}


def test_message_table_covers_every_type() -> None:
    assert set(MESSAGES) == set(MessageType)


def binaries(value: Any) -> list[bytes]:
    """Every bytes value in ``value``, depth first (to check they came back as bytes)."""
    if isinstance(value, bytes | bytearray):
        return [value]
    if isinstance(value, list):
        return [b for item in value for b in binaries(item)]
    if isinstance(value, dict):
        return [b for item in value.values() for b in binaries(item)]
    if isinstance(value, EncodedPacket):
        return [m for m in value.messages if isinstance(m, bytes)]
    return []


@pytest.mark.parametrize("nsp", ["/", ADMIN])
@pytest.mark.parametrize(
    ("kind", "data"),
    [(kind, data) for kind, cases in MESSAGES.items() for data in cases],
    ids=lambda value: value.name if isinstance(value, MessageType) else None,
)
def test_message_round_trip(kind: MessageType, data: Any, nsp: str) -> None:
    message = ClusterMessage("4", nsp, kind, data)
    target = 2 if kind in (MessageType.FETCH_SOCKETS_RESPONSE, MessageType.BROADCAST_ACK) else ALL
    raw = encode_message(message, 4, target)
    frame = only_frame(raw)
    assert (frame.kind, frame.source, frame.target, frame.nsp) == (kind, 4, target, nsp)
    decoded = decode_message(frame)
    assert decoded == message
    assert decoded.type is kind
    sent = binaries(data)
    got = binaries(decoded.data)
    assert got == sent
    assert all(type(blob) is bytes for blob in got)
    for blob in sent:
        if blob:
            assert blob in frame.payload  # as themselves, not JSON or base64


def test_message_uid_is_the_source_worker() -> None:
    message = ClusterMessage("anything", "/", MessageType.HEARTBEAT)
    decoded = decode_message(only_frame(encode_message(message, 7, ALL)))
    assert decoded.uid == "7"
    assert b"anything" not in encode_message(message, 7, ALL)


def test_message_binary_types_come_back_as_bytes() -> None:
    data = {"packet": ["e", bytearray(b"\x01\x02"), memoryview(b"\x03")]}
    message = ClusterMessage("1", "/", MessageType.SERVER_SIDE_EMIT, data)
    decoded = decode_message(only_frame(encode_message(message, 1, ALL)))
    assert decoded.data == {"packet": ["e", b"\x01\x02", b"\x03"]}


def test_message_broadcast_of_a_sio_packet_is_encoded_once_as_its_engine_io_messages() -> None:
    packet = Packet(PacketType.EVENT, ADMIN, ["m", "héllo ✓", {"file": b"\x00\x01\xff"}, b""])
    data = {"packet": packet, "opts": OPTS, "requestId": "r9"}
    raw = encode_message(ClusterMessage("3", ADMIN, MessageType.BROADCAST, data), 3, ALL)
    decoded = decode_message(only_frame(raw))
    expected = encode_messages(packet)
    assert decoded.data == {"opts": OPTS, "requestId": "r9", "packet": EncodedPacket(expected)}
    items = decoded.data["packet"].messages
    assert [type(item) for item in items] == [str, bytes, bytes]
    assert items[0].startswith(f"52-{ADMIN},")
    # What a receiver delivers is the very packet that was sent.
    again = decode_messages(items)
    assert (again.type, again.namespace, again.data) == (PacketType.EVENT, ADMIN, packet.data)


def test_message_broadcast_travels_as_utf8_text_and_raw_binary() -> None:
    text = '451-["m","€",{"_placeholder":true,"num":0}]'
    blob = bytes(range(256))
    data = {"packet": EncodedPacket([text, blob]), "opts": OPTS}
    frame = only_frame(
        encode_message(ClusterMessage("1", "/", MessageType.BROADCAST, data), 1, ALL)
    )
    assert text.encode("utf-8") in frame.payload
    assert blob in frame.payload
    (head_len,) = struct.unpack_from("!I", frame.payload, 0)
    head = json.loads(frame.payload[4 : 4 + head_len])
    assert head == {"opts": OPTS}  # the packet is in the items, not in the head


def test_message_broadcast_head_shape() -> None:
    data = {"packet": EncodedPacket([]), "opts": OPTS, "requestId": "r"}
    frame = only_frame(
        encode_message(ClusterMessage("1", "/", MessageType.BROADCAST, data), 1, ALL)
    )
    assert frame.payload == raw_payload({"opts": OPTS, "requestId": "r"}, [])


# -- malformed payloads ---------------------------------------------------------------------------


def frame_of(kind: int, payload: bytes, nsp: str = "/") -> Frame:
    return Frame(kind, 2, 1, nsp, payload)


@pytest.mark.parametrize(
    "message",
    [
        ClusterMessage(
            "2",
            "/",
            MessageType.BROADCAST,
            {"packet": EncodedPacket(['42["é"]', b"\x01"]), "opts": OPTS},
        ),
        ClusterMessage("2", "/", MessageType.SERVER_SIDE_EMIT, {"packet": ["e", b"\x00\x01\x02"]}),
        ClusterMessage("2", "/", MessageType.HEARTBEAT),
    ],
    ids=["broadcast", "server-side-emit", "heartbeat"],
)
def test_message_every_truncation_raises(message: ClusterMessage) -> None:
    payload = only_frame(encode_message(message, 2, ALL)).payload
    assert decode_message(frame_of(message.type, payload)) == message
    for cut in range(len(payload)):
        with pytest.raises(FrameError):
            decode_message(frame_of(message.type, payload[:cut]))


def test_message_truncated_item_raises() -> None:
    payload = raw_payload({"opts": OPTS}, [(0, b'42["m"]')])
    with pytest.raises(FrameError, match="truncated"):
        decode_message(frame_of(MessageType.BROADCAST, payload[:-1]))


def test_message_item_count_beyond_the_payload_raises() -> None:
    payload = bytearray(raw_payload({"opts": OPTS}, [(0, b"x")]))
    head_len = struct.unpack_from("!I", payload, 0)[0]
    struct.pack_into("!I", payload, 4 + head_len, 1000)
    with pytest.raises(FrameError):
        decode_message(frame_of(MessageType.BROADCAST, bytes(payload)))


def test_message_trailing_bytes_raise() -> None:
    message = ClusterMessage("2", "/", MessageType.SOCKETS_JOIN, {"opts": OPTS, "rooms": ["r"]})
    payload = only_frame(encode_message(message, 2, ALL)).payload
    with pytest.raises(FrameError, match="trailing"):
        decode_message(frame_of(MessageType.SOCKETS_JOIN, payload + b"\x00"))


@pytest.mark.parametrize("kind", [0, 14, 99, Control.HELLO, Control.WORKER_DOWN])
def test_message_unknown_type_raises(kind: int) -> None:
    with pytest.raises(FrameError, match="unknown message type"):
        decode_message(frame_of(kind, raw_payload(None, [])))


def test_message_bad_utf8_text_item_raises() -> None:
    payload = raw_payload({"opts": OPTS}, [(0, b"42\xff\xfe")])
    with pytest.raises(FrameError):
        decode_message(frame_of(MessageType.BROADCAST, payload))


def test_message_bad_json_head_raises() -> None:
    payload = struct.pack("!I", 5) + b"{nope" + struct.pack("!I", 0)
    with pytest.raises(FrameError):
        decode_message(frame_of(MessageType.SOCKETS_JOIN, payload))


def test_message_unknown_item_kind_raises() -> None:
    payload = raw_payload({"opts": {}}, [(7, b"\x00")])
    with pytest.raises(FrameError, match="item kind 7"):
        decode_message(frame_of(MessageType.BROADCAST, payload))


def test_message_text_item_outside_a_broadcast_raises() -> None:
    payload = raw_payload({"packet": ["e"]}, [(0, b"text")])
    with pytest.raises(FrameError, match="text item"):
        decode_message(frame_of(MessageType.SERVER_SIDE_EMIT, payload))


@pytest.mark.parametrize(
    ("placeholder", "items"),
    [
        ({"_placeholder": True, "num": 1}, [(1, b"\x00")]),  # beyond the attachments
        ({"_placeholder": True, "num": 0}, []),  # no attachment at all
        ({"_placeholder": True, "num": "0"}, [(1, b"\x00")]),  # not an integer
        ({"_placeholder": True, "num": -1}, [(1, b"\x00")]),
        ({"_placeholder": True}, [(1, b"\x00")]),
    ],
)
def test_message_bad_placeholder_raises(
    placeholder: dict[str, Any], items: list[tuple[int, bytes]]
) -> None:
    payload = raw_payload({"packet": ["e", placeholder]}, items)
    with pytest.raises(FrameError, match="placeholder"):
        decode_message(frame_of(MessageType.SERVER_SIDE_EMIT, payload))


@pytest.mark.parametrize("head", [None, ["opts"], "opts", 3])
def test_message_broadcast_head_must_be_an_object(head: Any) -> None:
    with pytest.raises(FrameError):
        decode_message(frame_of(MessageType.BROADCAST, raw_payload(head, [])))


def test_frame_json_nested_too_deep_is_a_frame_error() -> None:
    import pytest as _pytest

    from cluster.frames import MAX_JSON_DEPTH, FrameError, decode_json

    deep = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
    with _pytest.raises(FrameError):
        decode_json(deep)
    with _pytest.raises(FrameError):
        decode_json(b"[" * 100_000)
    ok = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert isinstance(decode_json(ok), list)


def test_fd_handover_peer_garbage_is_no_peer() -> None:
    from cluster.fdpass import _peer_of

    for payload in (b"[" * 100_000, b'{"peer":["1.2.3.4","x"]}', b'{"peer":3}', b"\xff", b"[]"):
        assert _peer_of(payload) is None
    assert _peer_of(b'{"peer":["1.2.3.4",5]}') == ("1.2.3.4", 5)
