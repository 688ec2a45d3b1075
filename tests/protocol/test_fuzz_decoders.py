"""Fuzzing every decoder of a peer's bytes (Hypothesis property tests).

The property of every decoder: whatever it is fed (arbitrary bytes or text, near-valid input
built from a valid encoding and mutated, deep nesting, huge numbers, invalid UTF-8), it returns
a value or raises the protocol error its docstring names: never ``RecursionError``,
``IndexError``, ``KeyError``, ``TypeError``, ``UnicodeDecodeError``, ``OverflowError``... And
where an encoder exists, decoding what it encodes gives the value back.

Sized by the Hypothesis profile named by ``HYPOTHESIS_PROFILE``: ``ci`` (the default, bounded:
the whole file in seconds, under plain ``pytest``) or ``fuzz`` (``make fuzz``,
``benchmarks/fuzz.py``: ``HYPOTHESIS_FUZZ_EXAMPLES`` per test, 50,000 by default).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from cluster.frames import (
    Frame,
    FrameDecoder,
    FrameError,
    decode_message,
    encode_frame,
    encode_message,
    encode_payload,
)
from cluster.messages import ClusterMessage, MessageType
from cluster.redis import pubsub_format, resp, streams_format
from cluster.redis.pubsub_format import FormatError
from cluster.redis.streams_format import StreamFormatError
from eio.errors import ParseError
from eio.protocol.handshake import OpenPayload
from eio.protocol.json_depth import json_depth_exceeds
from eio.protocol.packet import PacketType as EioType
from eio.protocol.packet import decode_packet
from eio.protocol.payload import SEPARATOR, decode_payload
from eio.protocol.payload import encode_payload as eio_encode_payload
from sio.protocol import (
    Packet,
    PacketDecoder,
    PacketError,
    PacketType,
    Session,
    decode_messages,
    decode_text,
    encode_messages,
    encode_text,
    notepack,
    reconstruct,
)
from sio.protocol.binary import has_binary
from sio.protocol.msgpack_parser import MsgpackDecoder, decode_msgpack, encode_msgpack
from sio.protocol.notepack import NotepackError
from sio.protocol.packet import MAX_DEPTH
from sio.protocol.recovery import recovery_auth

# -- profiles ------------------------------------------------------------------------------------

settings.register_profile(
    "ci",
    max_examples=200,
    # The same examples on every run: `make test` is reproducible; `make fuzz` explores.
    derandomize=True,
    deadline=None,
    database=None,  # no .hypothesis/ in the work tree; failures print their reproduction blob
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("HYPOTHESIS_FUZZ_EXAMPLES", "50000")),
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FUZZ = settings.get_profile(PROFILE if PROFILE in ("ci", "fuzz") else "ci")

#: Inputs run per test (``benchmarks/fuzz.py`` reports the total).
EXAMPLES: Counter[str] = Counter()


def _count(name: str) -> None:
    EXAMPLES[name] += 1


# -- strategies ----------------------------------------------------------------------------------

_HUGE_NUMBERS = st.sampled_from(
    [
        "1" * 5000,  # over int's 4300-digit limit: ValueError in int()/json
        "-" + "9" * 4301,
        "1e999",
        "-1e999",
        "1e-999",
        "9" * 400 + ".5e99999",
        "18446744073709551616",
        "-9223372036854775809",
        "NaN",
        "Infinity",
        "-Infinity",
        "0" * 50,
        "1E+2147483648",
    ]
)

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
#: Values JSON (and msgpack) carry: ints kept to 64 bits for msgpack, no NaN (not equal to itself).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
#: The same with binary values inside (Socket.IO attachments, msgpack bin).
binary_values = st.recursive(
    _scalars | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    """JSON nested a little or far deeper than any limit (the interpreter's included)."""
    depth = draw(st.sampled_from([0, 1, 7, 8, 9, 127, 128, 129, 159, 160, 161, 999, 1001, 5000]))
    opener = draw(st.sampled_from(["[", "{", '{"a":', "mixed"]))
    inner = draw(st.sampled_from(["", "1", '"x"', "null", "[]", "{}"]) | _HUGE_NUMBERS)
    if opener == "mixed":
        parts = [draw(st.sampled_from(["[", '{"k":'])) for _ in range(min(depth, 50))]
        parts += ["["] * (depth - len(parts))
    else:
        parts = [opener] * depth
    closers = "".join("}" if part.startswith("{") else "]" for part in reversed(parts))
    if draw(st.booleans()):  # unbalanced
        closers = closers[: draw(st.integers(0, len(closers)))]
    return "".join(parts) + inner + closers


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    """Flip, insert, delete, truncate or duplicate: the near-valid neighbours of ``data``."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate", "byte"]))
        position = draw(st.integers(0, len(out)))
        if op == "flip" and out and position < len(out):
            out[position] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and out and position < len(out):
            out[position] = draw(st.sampled_from([0x00, 0x22, 0x5B, 0x7B, 0x7F, 0x80, 0xFF, 0xC0]))
        elif op == "insert":
            out[position:position] = draw(
                st.binary(max_size=8)
                | st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\\", b'"', b"[" * 200, b"\x1e"])
            )
        elif op == "delete":
            del out[position : position + draw(st.integers(1, 8))]
        elif op == "truncate":
            del out[position:]
        elif op == "duplicate":
            out[position:position] = out[position : position + draw(st.integers(1, 16))]
    return bytes(out)


def _mutate_text(text: str, draw: st.DrawFn) -> str:
    mutated = _mutate(text.encode("utf-8", "surrogatepass"), draw)
    return mutated.decode("utf-8", "surrogateescape")


def near_valid_bytes(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        return _mutate(draw(valid), draw)

    return build()


def near_valid_text(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw: st.DrawFn) -> str:
        return _mutate_text(draw(valid), draw)

    return build()


#: JSON text a peer might send: valid, mutated, deep, with huge numbers, or garbage.
json_texts = st.one_of(
    json_values.map(json.dumps),
    near_valid_text(json_values.map(json.dumps)),
    deep_json(),
    _HUGE_NUMBERS.map(lambda number: f"[{number}]"),
    _HUGE_NUMBERS.map(lambda number: f'{{"a":{number}}}'),
    st.text(max_size=40),
)

#: Bytes a peer might send: arbitrary, invalid UTF-8, or JSON text's.
any_bytes = st.one_of(
    st.binary(max_size=200),
    json_texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80" * 4]),
)


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in ``value`` (iterative: values may be ~1000 deep)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth + 1)
            stack.extend(
                (child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def _normalise(value: Any) -> Any:
    """Tuples as lists (JSON and msgpack have only arrays)."""
    if isinstance(value, (list, tuple)):
        return [_normalise(item) for item in value]
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    return value


# -- Engine.IO -----------------------------------------------------------------------------------

eio_texts = st.one_of(
    st.text(max_size=50),
    st.tuples(st.sampled_from("0123456b"), st.text(max_size=50)).map("".join),
    st.binary(max_size=40).map(lambda data: "b" + base64.b64encode(data).decode()),
    near_valid_text(st.binary(max_size=40).map(lambda data: "b" + base64.b64encode(data).decode())),
)


@FUZZ
@given(st.one_of(eio_texts, st.binary(max_size=50)))
def test_eio_decode_packet_raises_only_parse_error(encoded: str | bytes) -> None:
    _count("eio_decode_packet")
    try:
        packet = decode_packet(encoded)
    except ParseError:
        return
    assert isinstance(packet.type, EioType)
    assert isinstance(packet.data, (str, bytes))


eio_items = st.one_of(
    st.tuples(
        st.sampled_from("0123456"), st.text(max_size=20).map(lambda s: s.replace(SEPARATOR, ""))
    ).map("".join),
    st.binary(max_size=20),
)


@FUZZ
@given(
    st.one_of(
        any_bytes,
        st.text(max_size=100),
        near_valid_bytes(
            st.lists(eio_items, max_size=6).map(lambda i: eio_encode_payload(i).encode())
        ),
        st.lists(eio_texts, max_size=6).map(SEPARATOR.join),
    ),
    st.none() | st.integers(0, 10),
)
def test_eio_decode_payload_raises_only_parse_error(
    body: bytes | str, max_packets: int | None
) -> None:
    _count("eio_decode_payload")
    try:
        packets = decode_payload(body, max_packets)
    except ParseError as exc:
        assert isinstance(exc.decoded, list)
        return
    assert packets and (max_packets is None or len(packets) <= max_packets)


@FUZZ
@given(st.lists(eio_items, min_size=1, max_size=8))
def test_eio_payload_round_trip(items: list[str | bytes]) -> None:
    _count("eio_payload_round_trip")
    packets = decode_payload(eio_encode_payload(items))
    assert [
        p.data if isinstance(p.data, bytes) else str(int(p.type)) + p.data for p in packets
    ] == items


# -- Engine.IO OPEN payload (client side) --------------------------------------------------------

open_payloads = st.builds(
    OpenPayload,
    st.text(min_size=1, max_size=20),
    st.lists(st.text(max_size=10), max_size=3).map(tuple),
    st.integers(0, 2**70),
    st.integers(0, 2**70),
    st.integers(0, 2**70),
)


@FUZZ
@given(
    st.one_of(
        json_texts,
        near_valid_text(open_payloads.map(OpenPayload.to_json)),
        _HUGE_NUMBERS.map(
            lambda n: (
                f'{{"sid":"a","upgrades":[],"pingInterval":{n},"pingTimeout":1,"maxPayload":1}}'
            )
        ),
    )
)
def test_open_payload_from_json_raises_only_value_error(text: str) -> None:
    _count("open_payload_from_json")
    try:
        payload = OpenPayload.from_json(text)
    except ValueError:  # json.JSONDecodeError included
        return
    assert payload.sid and payload.ping_interval_ms >= 0


@FUZZ
@given(open_payloads)
def test_open_payload_round_trip(payload: OpenPayload) -> None:
    _count("open_payload_round_trip")
    assert OpenPayload.from_json(payload.to_json()) == payload


@FUZZ
@given(st.one_of(json_texts, st.text(alphabet='[]{}"\\ ax,:', max_size=300)), st.integers(0, 200))
def test_json_depth_never_raises_and_is_exact_on_json(text: str, limit: int) -> None:
    _count("json_depth_exceeds")
    deep = json_depth_exceeds(text, limit)
    assert isinstance(deep, bool)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return
    assert deep == (_depth(value) > limit)


# -- Socket.IO -----------------------------------------------------------------------------------

namespaces = st.just("/") | st.text(max_size=10).map(lambda s: "/" + s.replace(",", ""))
sio_headers = st.builds(
    lambda kind, count, nsp, ack: (
        kind + (f"{count}-" if count is not None else "") + (nsp + "," if nsp else "") + ack
    ),
    st.sampled_from("0123456789x"),
    st.none() | st.integers(0, 20) | st.just(10**30),
    st.sampled_from(["", "/", "/chat", "/a,b"]),
    st.sampled_from(["", "1", "0", "9" * 15, "9" * 16, "1" * 5000]),
)
sio_texts = st.one_of(
    st.text(max_size=60),
    st.tuples(sio_headers, json_texts).map("".join),
    st.tuples(
        sio_headers, st.sampled_from([" ", " [1] ", "\t\n", "[1] x", "null", '["connect"]'])
    ).map("".join),
)


@FUZZ
@given(sio_texts, st.integers(0, 20))
def test_sio_decode_text_raises_only_packet_error(text: str, max_attachments: int) -> None:
    _count("sio_decode_text")
    try:
        packet = decode_text(text, max_attachments)
    except PacketError:
        return
    assert isinstance(packet.type, PacketType) and packet.namespace.startswith("/")
    assert _depth(packet.data) <= MAX_DEPTH


sio_packets = st.builds(
    Packet,
    st.sampled_from([PacketType.EVENT, PacketType.ACK]),
    namespaces,
    st.lists(binary_values, max_size=4),
    st.none() | st.integers(0, 10**15 - 1),
).filter(lambda p: p.type is PacketType.ACK or (p.data and isinstance(p.data[0], str)))


def _sane(packet: Packet) -> Packet:
    """Events named by a non-reserved string."""
    if packet.type is PacketType.EVENT:
        return packet._replace(data=["event", *packet.data[1:]])
    return packet


@FUZZ
@given(sio_packets.map(_sane))
def test_sio_messages_round_trip(packet: Packet) -> None:
    _count("sio_round_trip")
    messages = encode_messages(packet)
    decoded = decode_messages(messages, max_attachments=len(messages))
    assert decoded.type is packet.type
    assert (decoded.namespace, decoded.id) == (packet.namespace, packet.id)
    assert decoded.data == _normalise(packet.data)
    if len(messages) == 1 and isinstance(messages[0], str):
        assert encode_text(decode_text(messages[0])) == messages[0]


sio_message_lists = st.lists(
    st.one_of(
        sio_texts,
        st.binary(max_size=10),
        st.tuples(
            st.sampled_from(["51-", "52-", "61-", "51-/x,", "53-7"]),
            st.sampled_from(
                [
                    '["e",{"_placeholder":true,"num":0}]',
                    '["e",{"_placeholder":true,"num":1}]',
                    '["e",{"_placeholder":true,"num":-1}]',
                    '["e",{"_placeholder":true,"num":1e999}]',
                    '["e",{"_placeholder":true,"num":"0"}]',
                    '["e",{"_placeholder":true,"num":' + "9" * 400 + "}]",
                    '["e",{"_placeholder":true}]',
                    '[{"_placeholder":true,"num":0}]',
                    "[" * 128 + '{"_placeholder":true,"num":0}' + "]" * 128,
                ]
            ),
        ).map("".join),
    ),
    max_size=6,
)


@FUZZ
@given(
    st.one_of(
        sio_message_lists,
        sio_packets.map(_sane)
        .map(encode_messages)
        .flatmap(lambda messages: st.permutations(messages).map(list)),
    )
)
def test_sio_packet_decoder_raises_only_packet_error(messages: list[str | bytes]) -> None:
    _count("sio_packet_decoder")
    decoder = PacketDecoder()
    for message in messages:
        try:
            if isinstance(message, str):
                decoder.receive_text(message)
            else:
                decoder.receive_binary(message)
        except PacketError:
            decoder.reset()


@st.composite
def placeholder_data(draw: st.DrawFn) -> Any:
    """JSON data (depth within MAX_DEPTH, as decode_text gives it), placeholders good or bad."""
    placeholder = st.fixed_dictionaries(
        {"_placeholder": st.sampled_from([True, False, 1, "true"])},
        optional={
            "num": st.none()
            | st.integers(-3, 5)
            | st.floats()
            | st.text(max_size=2)
            | st.booleans()
        },
    )
    return draw(
        st.recursive(
            _scalars | placeholder,
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=4), inner, max_size=4)
            ),
            max_leaves=15,
        )
    )


@FUZZ
@given(placeholder_data(), st.lists(st.binary(max_size=4), max_size=4))
def test_sio_reconstruct_raises_only_packet_error(data: Any, attachments: list[bytes]) -> None:
    _count("sio_reconstruct")
    with contextlib.suppress(PacketError):
        reconstruct(data, attachments)


@FUZZ
@given(json_values | st.binary() | st.text())
def test_recovery_auth_never_raises(auth: Any) -> None:
    _count("recovery_auth")
    result = recovery_auth(auth)
    if (
        isinstance(auth, dict)
        and isinstance(auth.get("pid"), str)
        and isinstance(auth.get("offset"), str)
    ):
        assert result == (auth["pid"], auth["offset"])
    else:
        assert result is None


# -- cluster frames ------------------------------------------------------------------------------

frames = st.builds(
    encode_frame,
    st.integers(0, 255),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=40),
    st.text(max_size=10),
)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    out, start = [], 0
    for point in [*points, len(data)]:
        out.append(data[start:point])
        start = point
    return out


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        near_valid_bytes(st.lists(frames, max_size=4).map(b"".join)),
    ),
    st.lists(st.integers(0, 200), max_size=5),
)
def test_frame_decoder_raises_only_frame_error(data: bytes, cuts: list[int]) -> None:
    _count("frame_decoder")
    decoder = FrameDecoder()
    try:
        for chunk in _chunks(data, cuts):
            for frame, raw in decoder.feed(chunk):
                assert isinstance(frame.nsp, str) and raw.endswith(frame.payload)
    except FrameError:
        pass


@FUZZ
@given(st.lists(frames, min_size=1, max_size=4), st.lists(st.integers(0, 300), max_size=5))
def test_frame_round_trip_in_any_chunking(encoded: list[bytes], cuts: list[int]) -> None:
    _count("frame_round_trip")
    decoder = FrameDecoder()
    raws = [raw for chunk in _chunks(b"".join(encoded), cuts) for _, raw in decoder.feed(chunk)]
    assert raws == encoded


payloads = st.builds(
    encode_payload,
    json_values,
    st.lists(st.text(max_size=8) | st.binary(max_size=8), max_size=4),
)


@FUZZ
@given(
    st.sampled_from([int(kind) for kind in MessageType] + [0, 14, 20, 255]),
    st.one_of(
        st.binary(max_size=100),
        near_valid_bytes(payloads),
        json_texts.map(
            lambda text: (
                len(text.encode("utf-8", "surrogatepass")).to_bytes(4, "big")
                + text.encode("utf-8", "surrogatepass")
                + b"\0\0\0\0"
            )
        ),
    ),
)
def test_decode_message_raises_only_frame_error(kind: int, payload: bytes) -> None:
    _count("decode_message")
    try:
        message = decode_message(Frame(kind, 1, 2, "/", payload))
    except FrameError:
        return
    assert message.uid == "1" and message.type == kind


@FUZZ
@given(
    st.sampled_from([kind for kind in MessageType if kind is not MessageType.BROADCAST]),
    namespaces,
    binary_values.filter(lambda v: not isinstance(v, (bytes, bytearray))),
)
def test_cluster_message_round_trip(kind: MessageType, nsp: str, data: Any) -> None:
    _count("cluster_message_round_trip")
    raw = encode_message(ClusterMessage("7", nsp, kind, data), 7, 3)
    ((frame, _),) = FrameDecoder().feed(raw)
    decoded = decode_message(frame)
    # Non-finite floats and lone surrogates aside (JSON), the data comes back.
    assert (decoded.uid, decoded.nsp, decoded.type) == ("7", nsp, kind)
    assert decoded.data == _normalise(data)


# -- Redis: notepack, pub/sub, streams, RESP -----------------------------------------------------

packable = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
#: msgpack nested too deep, huge lengths, timestamps out of range, extensions, bin map keys.
_MSGPACK_EDGES = st.sampled_from(
    [
        b"\x91" * 159 + b"\xc0",
        b"\x91" * 160 + b"\xc0",
        b"\x91" * 161 + b"\xc0",
        b"\x91" * 5000 + b"\xc0",
        b"\x81\xa1a" * 200 + b"\xc0",
        b"\xdd\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xff",
        b"\xc6\xff\xff\xff\xff",
        b"\xd7\xff" + b"\xff" * 8,  # timestamp 64, out of datetime's range
        b"\xc7\x0c\xff" + b"\xff" * 12,  # timestamp 96
        b"\xd6\xff\xff\xff\xff\xff",
        b"\xd4\x00\x00",
        b"\xd7\x00" + b"\x00" * 8,
        b"\xc7\x00\x05",
        b"\x81\xc4\x01a\x01",  # bin map key
        b"\x81\x01\x01",  # int map key
        b"\x81\x90\x01",  # array map key
        b"\xc1",
        b"\xa3\xff\xfe\xfd",  # invalid UTF-8 str
    ]
)
msgpack_bytes = st.one_of(
    st.binary(max_size=100),
    near_valid_bytes(packable.map(notepack.pack)),
    _MSGPACK_EDGES,
    near_valid_bytes(_MSGPACK_EDGES),
)


@FUZZ
@given(msgpack_bytes)
def test_notepack_unpack_raises_only_notepack_error(data: bytes) -> None:
    _count("notepack_unpack")
    try:
        value = notepack.unpack(data)
    except NotepackError:
        return
    assert _depth(value) <= notepack.MAX_DEPTH


@FUZZ
@given(packable)
def test_notepack_round_trip(value: Any) -> None:
    _count("notepack_round_trip")
    assert notepack.unpack(notepack.pack(value)) == _normalise(value)


# -- the msgpack parser (socket.io-msgpack-parser) -----------------------------------------------

#: Maps shaped like packets, most of them wrong somewhere: keys, types, namespaces, ids, data.
_msgpack_packet_maps = st.fixed_dictionaries(
    {},
    optional={
        "type": st.integers(-1, 7) | st.sampled_from([2.0, "2", True, None]),
        "nsp": st.sampled_from(["/", "/chat", "", "chat", 1, None]) | namespaces,
        "data": packable
        | st.lists(packable, max_size=4)
        | st.tuples(st.sampled_from(["e", "connect", "", 1, True]), packable).map(list),
        "id": st.sampled_from([0, 1, -1, 10**15 - 1, 10**15, 2**64 - 1, 1.5, "1", None, True]),
        "options": st.sampled_from([{"compress": True}, {}, [], None, 1]),
        "extra": packable,
    },
)
#: An EVENT ``{type: 2, nsp: "/", data: ["e", X]}`` with X: notepack's extensions and others,
#: and nesting at the limit and beyond it.
_EVENT_HEAD = b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1e"
_MSGPACK_PACKET_EDGES = st.sampled_from(
    [
        _EVENT_HEAD + tail
        for tail in (
            b"\xd4\x00\x00",  # undefined
            b"\xc7\x02\x00\x01\x02",  # an ArrayBuffer
            b"\xd5\x01\x00\x00",  # extension 1
            b"\xd6\xff\x00\x00\x00\x01",  # a timestamp
            b"\xd7\x00" + b"\x00" * 8,  # notepack 2's Date
            b"\x91" * 126 + b"\xc0",
            b"\x91" * 127 + b"\xc0",  # data 128 deep: the limit
            b"\x91" * 128 + b"\xc0",
            b"\x91" * 5000 + b"\xc0",
            b"\xc0\xc0",  # trailing
            b"",  # truncated
        )
    ]
)
msgpack_packets_bytes = st.one_of(
    msgpack_bytes,
    _msgpack_packet_maps.map(notepack.pack),
    near_valid_bytes(_msgpack_packet_maps.map(notepack.pack)),
    _MSGPACK_PACKET_EDGES,
    near_valid_bytes(_MSGPACK_PACKET_EDGES),
)


@FUZZ
@given(st.one_of(msgpack_packets_bytes, st.text(max_size=30)))
def test_msgpack_decoder_raises_only_packet_error(message: str | bytes) -> None:
    _count("msgpack_decoder")
    decoder = MsgpackDecoder()
    try:
        if isinstance(message, str):
            packet = decoder.receive_text(message)
        else:
            packet = decoder.receive_binary(message)
    except PacketError:
        return
    assert packet is not None and not isinstance(message, str)
    assert packet.type <= PacketType.CONNECT_ERROR and packet.namespace.startswith("/")
    assert packet.id is None or 0 <= packet.id < 10**15
    assert _depth(packet.data) <= MAX_DEPTH
    # Whatever it accepts, the JSON decoder accepts too (binary aside: attachments there; and a
    # NaN or infinite event name, valid in both, which JSON can only write as null).
    name = packet.data[0] if packet.type is PacketType.EVENT else None
    if not has_binary(packet.data) and not (isinstance(name, float) and not math.isfinite(name)):
        json_packet = decode_text(encode_text(packet))
        assert json_packet.type is packet.type
        assert (json_packet.namespace, json_packet.id) == (packet.namespace, packet.id)


@FUZZ
@given(sio_packets.map(_sane), st.sampled_from([PacketType.EVENT, PacketType.ACK, None]))
def test_msgpack_round_trip(packet: Packet, kind: PacketType | None) -> None:
    _count("msgpack_round_trip")
    if kind is None:  # the other packet types, with their payloads
        packet = Packet(PacketType.CONNECT, packet.namespace, {"token": packet.namespace})
    messages = encode_msgpack(packet)
    assert len(messages) == 1 and isinstance(messages[0], bytes)
    decoded = decode_msgpack(messages[0])
    assert decoded.type is packet.type
    assert (decoded.namespace, decoded.id) == (packet.namespace, packet.id)
    assert decoded.data == _normalise_msgpack(packet.data)


def _normalise_msgpack(value: Any) -> Any:
    """What a value becomes through msgpack: tuples are arrays, bytes-likes are bytes."""
    if isinstance(value, (list, tuple)):
        return [_normalise_msgpack(item) for item in value]
    if isinstance(value, dict):
        return {key: _normalise_msgpack(item) for key, item in value.items()}
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        try:  # beyond msgpack's integers: a JavaScript number
            return float(value)
        except OverflowError:
            return math.copysign(math.inf, value)
    return value


_pubsub_valid = st.one_of(
    st.builds(
        pubsub_format.encode_broadcast,
        st.text(max_size=6),
        namespaces,
        st.lists(packable, min_size=1, max_size=3),
        st.fixed_dictionaries({"rooms": st.lists(st.text(max_size=4), max_size=2)}),
    ),
    st.builds(
        pubsub_format.sockets_request,
        st.text(max_size=6),
        st.text(max_size=6),
        st.lists(st.text(max_size=4)),
    ),
    st.builds(pubsub_format.all_rooms_request, st.text(max_size=6), st.text(max_size=6)),
    st.builds(
        pubsub_format.remote_join_request,
        st.text(max_size=6),
        st.fixed_dictionaries({"rooms": st.lists(st.text(max_size=4))}),
        st.lists(st.text(max_size=4)),
    ),
    st.builds(
        pubsub_format.remote_disconnect_request, st.text(max_size=6), st.just({}), st.booleans()
    ),
    st.builds(
        pubsub_format.remote_fetch_request, st.text(max_size=6), st.text(max_size=6), st.just({})
    ),
    st.builds(
        pubsub_format.server_side_emit_request,
        st.text(max_size=6),
        st.lists(json_values, min_size=1, max_size=3),
    ),
    st.builds(pubsub_format.sockets_response, st.text(max_size=6), st.lists(st.text(max_size=4))),
    st.builds(pubsub_format.all_rooms_response, st.text(max_size=6), st.lists(st.text(max_size=4))),
    st.builds(pubsub_format.client_count_response, st.text(max_size=6), st.integers(0, 100)),
    st.builds(pubsub_format.broadcast_ack_response, st.text(max_size=6), packable),
    st.builds(pubsub_format.server_side_emit_response, st.integers(0, 10**6), json_values),
)
#: JSON objects of the requests' shapes, their fields of any type.
_pubsub_json = st.fixed_dictionaries(
    {"type": st.integers(-1, 10) | json_values},
    optional={
        key: json_values
        | st.lists(json_values, max_size=3)
        | st.dictionaries(
            st.sampled_from(["rooms", "except", "flags"]),
            json_values | st.lists(json_values, max_size=3),
        )
        for key in (
            "uid",
            "requestId",
            "rooms",
            "opts",
            "sid",
            "room",
            "close",
            "data",
            "packet",
            "sockets",
            "clientCount",
        )
    },
)
pubsub_bytes = st.one_of(
    msgpack_bytes,
    any_bytes,
    near_valid_bytes(_pubsub_valid),
    _pubsub_json.map(lambda value: json.dumps(value).encode()),
    _pubsub_json.map(notepack.pack),
    _HUGE_NUMBERS.map(lambda n: b'{"type":0,"requestId":' + n.encode() + b"}"),
    deep_json().map(lambda text: b'{"type":6,"data":' + text.encode() + b"}"),
)


@FUZZ
@given(pubsub_bytes)
def test_pubsub_decode_broadcast_raises_only_format_error(payload: bytes) -> None:
    _count("pubsub_decode_broadcast")
    with contextlib.suppress(FormatError):
        pubsub_format.decode_broadcast(payload)


@FUZZ
@given(pubsub_bytes)
def test_pubsub_decode_request_raises_only_format_error(payload: bytes) -> None:
    _count("pubsub_decode_request")
    with contextlib.suppress(FormatError):
        pubsub_format.decode_request(payload)


@FUZZ
@given(pubsub_bytes)
def test_pubsub_decode_response_raises_only_format_error(payload: bytes) -> None:
    _count("pubsub_decode_response")
    with contextlib.suppress(FormatError):
        pubsub_format.decode_response(payload)


@FUZZ
@given(
    st.text(max_size=6),
    namespaces,
    st.lists(packable, min_size=1, max_size=3),
    st.lists(st.text(max_size=4), max_size=3),
)
def test_pubsub_broadcast_round_trip(uid: str, nsp: str, data: list[Any], rooms: list[str]) -> None:
    _count("pubsub_broadcast_round_trip")
    message = pubsub_format.decode_broadcast(
        pubsub_format.encode_broadcast(uid, nsp, data, {"rooms": rooms, "except": [], "flags": {}})
    )
    assert (message.uid, message.nsp, message.data) == (uid, nsp, _normalise(data))
    assert message.opts.rooms == tuple(rooms)


_MAY_BINARY = [
    MessageType.FETCH_SOCKETS_RESPONSE,
    MessageType.SERVER_SIDE_EMIT,
    MessageType.SERVER_SIDE_EMIT_RESPONSE,
    MessageType.BROADCAST_ACK,
]
#: Stream messages as Node writes them: data an object (or none), binary only in the types that
#: may carry it (the others are JSON, where binary becomes its ``str``, as documented).
_stream_messages = st.one_of(
    st.builds(
        ClusterMessage,
        st.text(max_size=6),
        namespaces,
        st.sampled_from([k for k in MessageType if k is not MessageType.BROADCAST]),
        st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    ),
    st.builds(
        ClusterMessage,
        st.text(max_size=6),
        namespaces,
        st.sampled_from(_MAY_BINARY),
        st.dictionaries(st.text(max_size=6), packable, max_size=4),
    ),
)


@st.composite
def stream_fields(draw: st.DrawFn) -> dict[str, bytes]:
    """An entry's fields: from ``encode_entry`` (mutated or not), or made up."""
    if draw(st.booleans()):
        try:
            encoded = streams_format.encode_entry(draw(_stream_messages))
        except StreamFormatError:  # data no entry can hold (an infinite float: not JSON)
            reject()
        fields = {
            encoded[i]: encoded[i + 1].encode("utf-8", "surrogatepass")
            for i in range(0, len(encoded), 2)
        }
    else:
        fields = draw(
            st.dictionaries(
                st.sampled_from(["uid", "nsp", "type", "data", "x"]), st.binary(max_size=30)
            )
        )
    for name in draw(st.lists(st.sampled_from(["uid", "nsp", "type", "data"]), max_size=2)):
        fields[name] = draw(
            st.one_of(
                near_valid_bytes(st.just(fields.get(name, b""))),
                any_bytes,
                msgpack_bytes.map(base64.b64encode),
                st.sampled_from([b"3", b"9", b"\xff", b"99999999999999999999", b"\xd9\xa0"]),
            )
        )
    return fields


@FUZZ
@given(stream_fields())
def test_streams_decode_entry_raises_only_stream_format_error(fields: dict[str, bytes]) -> None:
    _count("streams_decode_entry")
    with contextlib.suppress(StreamFormatError):
        streams_format.decode_entry(fields)


def _has_infinity(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and item in (float("inf"), float("-inf")):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


@FUZZ
@given(_stream_messages)
def test_streams_entry_round_trip(message: ClusterMessage) -> None:
    _count("streams_entry_round_trip")
    try:
        encoded = streams_format.encode_entry(message)
    except StreamFormatError:
        # Documented: an infinite float cannot be JSON (and this data goes as JSON).
        assert _has_infinity(message.data), message
        return
    fields = {
        encoded[i]: encoded[i + 1].encode("utf-8", "surrogatepass")
        for i in range(0, len(encoded), 2)
    }
    decoded = streams_format.decode_entry(fields)
    assert (decoded.uid, decoded.nsp, decoded.type) == (message.uid, message.nsp, message.type)
    assert decoded.data == _normalise(message.data)


_ephemeral_maps = st.fixed_dictionaries(
    {},
    optional={
        "type": st.integers(-1, 14) | packable,
        "uid": st.text(max_size=4) | packable,
        "nsp": namespaces | packable,
        "data": packable
        | st.fixed_dictionaries(
            {
                "packet": st.fixed_dictionaries(
                    {},
                    optional={
                        "type": st.integers(-1, 7) | packable,
                        "data": packable,
                        "id": packable,
                    },
                )
            }
        ),
    },
).map(notepack.pack)


@FUZZ
@given(st.one_of(msgpack_bytes, near_valid_bytes(_ephemeral_maps), _ephemeral_maps))
def test_streams_decode_ephemeral_raises_only_stream_format_error(payload: bytes) -> None:
    _count("streams_decode_ephemeral")
    with contextlib.suppress(StreamFormatError):
        streams_format.decode_ephemeral(payload)


sessions = st.builds(
    Session,
    st.text(max_size=6),
    st.text(max_size=6),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=4), packable, max_size=3),
)


@FUZZ
@given(
    st.one_of(
        any_bytes,
        msgpack_bytes.map(base64.b64encode),
        near_valid_bytes(sessions.map(streams_format.encode_session).map(str.encode)),
        sessions.map(streams_format.encode_session)
        .map(str.encode)
        .map(base64.b64decode)
        .map(lambda raw: base64.b64encode(raw[: len(raw) // 2])),
    )
)
def test_streams_decode_session_raises_only_stream_format_error(value: bytes) -> None:
    _count("streams_decode_session")
    with contextlib.suppress(StreamFormatError):
        streams_format.decode_session(value)


@FUZZ
@given(sessions)
def test_streams_session_round_trip(session: Session) -> None:
    _count("streams_session_round_trip")
    decoded = streams_format.decode_session(streams_format.encode_session(session).encode())
    assert decoded == Session(session.sid, session.pid, session.rooms, _normalise(session.data))


def _resp(value: Any) -> bytes:
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(_resp(item) for item in value)
    if isinstance(value, int):
        return b":%d\r\n" % value
    if value is None:
        return b"$-1\r\n"
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _resp_arrays(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    # A named function: Hypothesis 6.170 takes this lambda for one that ignores its argument.
    return st.lists(inner, max_size=4)


resp_values = st.recursive(
    st.none() | st.integers(-(2**63), 2**63 - 1) | st.binary(max_size=10),
    _resp_arrays,
    max_leaves=10,
)
_RESP_EDGES = st.sampled_from(
    [
        b"*1\r\n" * 20 + b":1\r\n",  # deeper than hiredis nests
        b":99999999999999999999999\r\n",
        b"$99999999999999999999\r\n",
        b"*-2\r\n",
        b"$-2\r\n",
        b",inf\r\n",
        b",nan\r\n",
        b",1e999\r\n",
        b"(123456789012345678901234567890\r\n",
        b"%1\r\n*0\r\n:1\r\n",  # RESP3 map with an array key
        b"%1\r\n%0\r\n:1\r\n",
        b"~1\r\n*0\r\n",  # RESP3 set of an array
        b"~2\r\n:1\r\n:1\r\n",
        b"=5\r\nxxx\r\n",
        b"#x\r\n",
        b">1\r\n:1\r\n",
        b"|1\r\n+a\r\n+b\r\n:1\r\n",
        b"_\r\n",
        b"-ERR x\r\n",
        b"+\xff\xfe\r\n",
        b"!3\r\nerr\r\n",
    ]
)


#: A RESP3 map (``%``) whose key is an array or a map: hiredis's Python reader puts it in a dict.


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=100),
        near_valid_bytes(resp_values.map(_resp)),
        _RESP_EDGES,
        near_valid_bytes(_RESP_EDGES),
        st.lists(_RESP_EDGES, max_size=3).map(b"".join),
    ),
    st.lists(st.integers(0, 100), max_size=4),
)
def test_resp_reply_reader_raises_only_protocol_error(data: bytes, cuts: list[int]) -> None:
    _count("resp_reply_reader")
    reader = resp.ReplyReader()
    try:
        for chunk in _chunks(data, cuts):
            for _ in reader.feed(chunk):
                pass
    except resp.ProtocolError:
        pass


@pytest.mark.parametrize("data", [b"%1\r\n*0\r\n:1\r\n", b"%1\r\n%0\r\n:1\r\n"])
def test_resp_map_with_aggregate_key(data: bytes) -> None:
    """Found by the fuzzer: hiredis raised TypeError (an unhashable key) through ``feed``."""
    reader = resp.ReplyReader()
    with pytest.raises(resp.ProtocolError):
        list(reader.feed(data))


@FUZZ
@given(st.lists(resp_values, min_size=1, max_size=4), st.lists(st.integers(0, 300), max_size=4))
def test_resp_round_trip(values: list[Any], cuts: list[int]) -> None:
    _count("resp_round_trip")
    reader = resp.ReplyReader()
    replies = [
        reply
        for chunk in _chunks(b"".join(map(_resp, values)), cuts)
        for reply in reader.feed(chunk)
    ]
    assert replies == values
    command = [b"SET", b"k\r\n", b""]
    assert list(resp.ReplyReader().feed(resp.encode_command(*command))) == [command]


def test_profile_is_known() -> None:
    assert PROFILE in ("ci", "fuzz"), f"HYPOTHESIS_PROFILE={PROFILE!r}: use ci or fuzz"


pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
