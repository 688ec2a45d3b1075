"""The cluster bus framing, sans-IO: frames, the decoder's chunking, retargeting, payloads."""

from __future__ import annotations

import struct

import pytest

from cluster import frames
from cluster.frames import (
    ALL,
    MASTER,
    MAX_FRAME,
    Frame,
    FrameDecoder,
    FrameError,
    Kind,
    decode_broadcast,
    decode_json,
    encode_broadcast,
    encode_frame,
    encode_json,
    retarget,
)

# -- frames ---------------------------------------------------------------------------------------


def test_frame_layout() -> None:
    raw = encode_frame(Kind.BROADCAST, 3, ALL, b"abc")
    # length (after itself) | kind | source | target | payload
    assert raw == struct.pack("!IBHH", 8, 1, 3, 0xFFFF) + b"abc"


@pytest.mark.parametrize("payload", [b"", b"x", bytes(range(256)) * 40])
@pytest.mark.parametrize(
    ("kind", "source", "target"),
    [(Kind.HELLO, MASTER, 1), (Kind.BROADCAST, 2, ALL), (Kind.FETCH_SOCKETS_RESPONSE, 65534, 7)],
)
def test_round_trip(kind: Kind, source: int, target: int, payload: bytes) -> None:
    raw = encode_frame(kind, source, target, payload)
    decoded = FrameDecoder().feed(raw)
    assert decoded == [(Frame(kind, source, target, payload), raw)]
    assert isinstance(decoded[0][0].payload, bytes)


def test_byte_by_byte() -> None:
    raws = [encode_frame(Kind.SOCKETS_JOIN, 1, ALL, b'{"nsp":"/"}'), encode_frame(22, 0, 2)]
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
    assert [frame.kind for frame, _raw in got] == [Kind.SOCKETS_JOIN, Kind.WORKER_DOWN]


def test_several_frames_in_one_chunk_and_a_partial_tail() -> None:
    raws = [encode_frame(Kind.BROADCAST, 1, ALL, str(n).encode() * n) for n in range(1, 6)]
    tail = encode_frame(Kind.HELLO, 0, 1, b"tail-payload")
    decoder = FrameDecoder()
    out = decoder.feed(b"".join(raws) + tail[:6])
    assert [raw for _f, raw in out] == raws
    assert [f.payload for f, _raw in out] == [str(n).encode() * n for n in range(1, 6)]
    assert decoder.feed(b"") == []
    assert decoder.feed(tail[6:]) == [(Frame(Kind.HELLO, 0, 1, b"tail-payload"), tail)]


def test_chunks_across_boundaries() -> None:
    raws = [encode_frame(Kind.BROADCAST, 2, ALL, bytes([n]) * (n * 7)) for n in range(20)]
    stream = b"".join(raws)
    for size in (2, 3, 5, 9, 64):
        decoder = FrameDecoder()
        got: list[bytes] = []
        for offset in range(0, len(stream), size):
            got.extend(raw for _f, raw in decoder.feed(stream[offset : offset + size]))
        assert got == raws, size


@pytest.mark.parametrize("length", [0, 1, 4, MAX_FRAME + 1, 0xFFFFFFFF])
def test_bad_length_raises(length: int) -> None:
    decoder = FrameDecoder()
    with pytest.raises(FrameError):
        decoder.feed(struct.pack("!IBHH", length, 1, 1, 1) + b"rest")


def test_bad_length_after_good_frames_raises() -> None:
    good = encode_frame(Kind.BROADCAST, 1, ALL, b"ok")
    with pytest.raises(FrameError):
        FrameDecoder().feed(good + struct.pack("!I", 2) + b"\0" * 20)


def test_shortest_frame_is_accepted() -> None:
    raw = struct.pack("!IBHH", 5, Kind.WORKER_UP, 0, 3)
    assert FrameDecoder().feed(raw) == [(Frame(Kind.WORKER_UP, 0, 3, b""), raw)]


def test_a_header_alone_waits_for_the_payload() -> None:
    raw = encode_frame(Kind.BROADCAST, 1, 2, b"payload")
    decoder = FrameDecoder()
    assert decoder.feed(raw[:9]) == []
    assert decoder.feed(raw[9:-1]) == []
    assert decoder.feed(raw[-1:])[0][0].payload == b"payload"


def test_encode_refuses_an_oversized_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "MAX_FRAME", 100)
    encode_frame(Kind.BROADCAST, 1, ALL, b"x" * 95)
    with pytest.raises(FrameError):
        encode_frame(Kind.BROADCAST, 1, ALL, b"x" * 96)


def test_retarget_changes_only_the_target() -> None:
    raw = encode_frame(Kind.FETCH_SOCKETS_RESPONSE, 4, ALL, b'{"request_id":9}')
    moved = retarget(raw, 2)
    assert len(moved) == len(raw)
    ((frame, again),) = FrameDecoder().feed(moved)
    assert frame == Frame(Kind.FETCH_SOCKETS_RESPONSE, 4, 2, b'{"request_id":9}')
    assert again == moved
    assert retarget(moved, ALL) == raw


# -- payloads -------------------------------------------------------------------------------------


def test_json_round_trip_is_compact() -> None:
    body = {"nsp": "/", "rooms": ["a", "é"], "n": 1, "ok": True, "none": None}
    raw = encode_json(body)
    assert b" " not in raw
    assert decode_json(raw) == body


def test_json_of_unknown_types_is_their_string() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing"

    assert decode_json(encode_json({"x": Thing()})) == {"x": "thing"}


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[1,", b"[" * 100_000])
def test_bad_json_raises_frame_error(raw: bytes) -> None:
    with pytest.raises(FrameError):
        decode_json(raw)


def test_broadcast_round_trip_text_and_binary() -> None:
    header = {"nsp": "/chat", "rooms": ["room é"], "except": [], "volatile": False}
    items: list[str | bytes] = [
        '451-["file",{"_placeholder":true,"num":0}]',
        b"\x00\x01\xff binary",
        '42["chat message","héllo wörld ✓ 🎉"]',
        b"",
        "",
    ]
    payload = encode_broadcast(header, items)
    got_header, got_items = decode_broadcast(payload)
    assert got_header == header
    assert got_items == items
    assert [type(item) for item in got_items] == [str, bytes, str, bytes, str]


def test_broadcast_text_is_utf8_on_the_wire() -> None:
    """The encoded message travels as its UTF-8 bytes: no JSON or base64 re-encoding."""
    text = '42["m","€"]'
    payload = encode_broadcast({"nsp": "/"}, [text])
    assert text.encode("utf-8") in payload
    blob = bytes(range(256))
    assert blob in encode_broadcast({"nsp": "/"}, [blob])


def test_broadcast_with_no_items() -> None:
    assert decode_broadcast(encode_broadcast({"nsp": "/"}, [])) == ({"nsp": "/"}, [])


def test_broadcast_inside_a_frame() -> None:
    payload = encode_broadcast({"nsp": "/"}, ['42["a"]', b"\x01"])
    raw = encode_frame(Kind.BROADCAST, 1, ALL, payload)
    ((frame, _raw),) = FrameDecoder().feed(raw)
    assert decode_broadcast(frame.payload) == ({"nsp": "/"}, ['42["a"]', b"\x01"])


def test_every_truncation_of_a_broadcast_raises() -> None:
    payload = encode_broadcast({"nsp": "/", "rooms": ["r"]}, ['42["é"]', b"\x00\x01\x02"])
    for cut in range(len(payload)):
        with pytest.raises(FrameError):
            decode_broadcast(payload[:cut])


def test_broadcast_item_count_beyond_the_payload_raises() -> None:
    payload = bytearray(encode_broadcast({"nsp": "/"}, ["x"]))
    head_len = struct.unpack_from("!I", payload, 0)[0]
    struct.pack_into("!I", payload, 4 + head_len, 1000)
    with pytest.raises(FrameError):
        decode_broadcast(bytes(payload))


def test_broadcast_bad_utf8_raises() -> None:
    payload = encode_broadcast({"nsp": "/"}, ["ab"]).replace(b"ab", b"\xff\xfe")
    with pytest.raises(FrameError):
        decode_broadcast(payload)


def test_broadcast_header_must_be_an_object() -> None:
    head = encode_json(["not", "an", "object"])
    payload = struct.pack("!I", len(head)) + head + struct.pack("!I", 0)
    with pytest.raises(FrameError):
        decode_broadcast(payload)
