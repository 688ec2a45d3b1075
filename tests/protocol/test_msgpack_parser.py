"""The msgpack parser (``sio/protocol/msgpack_parser.py``) and the parser seam, sans-IO: packets
against the bytes ``socket.io-msgpack-parser`` 3.0.2 writes for them (``Encoder.encode`` in Node,
pasted here as hex; ``tests/integration/test_msgpack.py`` checks them live), what it sends that
we do not (``undefined``, ``ArrayBuffer``, the client's ``options``), and what is refused."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("msgpack")

from sio.protocol import (
    JSON_PARSER,
    MsgpackMissingError,
    Packet,
    PacketDecoder,
    PacketError,
    decode_text,
    notepack_pack,
    parser_named,
)
from sio.protocol import PacketType as T
from sio.protocol import notepack as notepack_module
from sio.protocol.msgpack_parser import (
    MsgpackDecoder,
    decode_msgpack,
    decode_msgpack_messages,
    encode_msgpack,
)

#: name -> (packet, the npm parser's bytes for ``{type, data, nsp, id}`` of it).
ENCODED: dict[str, tuple[Packet, str]] = {
    "connect": (Packet(T.CONNECT, "/"), "82a47479706500a36e7370a12f"),
    "connect_auth": (
        Packet(T.CONNECT, "/admin", {"token": "abc"}),
        "83a47479706500a46461746181a5746f6b656ea3616263a36e7370a62f61646d696e",
    ),
    "connect_reply": (
        Packet(T.CONNECT, "/", {"sid": "s1", "pid": "p1"}),
        "83a47479706500a46461746182a3736964a27331a3706964a27031a36e7370a12f",
    ),
    "disconnect": (Packet(T.DISCONNECT, "/admin™"), "82a47479706501a36e7370a92f61646d696ee284a2"),
    "event": (
        Packet(T.EVENT, "/", ["chat message", "hello from A"]),
        "83a47479706502a46461746192ac63686174206d657373616765ac68656c6c6f2066726f6d2041"
        "a36e7370a12f",
    ),
    "event_ack": (
        Packet(T.EVENT, "/admin™", ["whoami"], 12),
        "84a47479706502a46461746191a677686f616d69a36e7370a92f61646d696ee284a2a269640c",
    ),
    "event_binary_inline": (
        Packet(T.EVENT, "/", ["file", b"\x00\x01\xff", {"nested": [b"x"]}]),
        "83a47479706502a46461746193a466696c65c4030001ff81a66e657374656491c40178a36e7370a12f",
    ),
    "event_numbers": (
        Packet(
            T.EVENT,
            "/",
            ["n", 0, -1, 127, 128, -33, 65536, 2**40, -(2**40), 1.5, True, False, None],
        ),
        "83a47479706502a4646174619da16e00ff7fcc80d0dfce00010000cf0000010000000000d3ffffff00"
        "00000000cb3ff8000000000000c3c2c0a36e7370a12f",
    ),
    "ack_empty": (Packet(T.ACK, "/", [], 0), "84a47479706503a46461746190a36e7370a12fa2696400"),
    "ack_binary": (
        Packet(T.ACK, "/", [b"\x01", "y"], 7),
        "84a47479706503a46461746192c40101a179a36e7370a12fa2696407",
    ),
    "ack_max_id": (
        Packet(T.ACK, "/", ["ok"], 10**15 - 1),
        "84a47479706503a46461746191a26f6ba36e7370a12fa26964cf00038d7ea4c67fff",
    ),
    "connect_error": (
        Packet(T.CONNECT_ERROR, "/admin", {"message": "not authorized", "data": {"x": 1}}),
        "83a47479706504a46461746182a76d657373616765ae6e6f7420617574686f72697a6564a464617461"
        "81a17801a36e7370a62f61646d696e",
    ),
}


@pytest.mark.parametrize("name", ENCODED)
def test_msgpack_encode_writes_what_the_npm_parser_writes(name: str) -> None:
    packet, expected = ENCODED[name]
    assert encode_msgpack(packet) == [bytes.fromhex(expected)]


@pytest.mark.parametrize("name", ENCODED)
def test_msgpack_decode_reads_what_the_npm_parser_writes(name: str) -> None:
    packet, encoded = ENCODED[name]
    assert decode_msgpack(bytes.fromhex(encoded)) == packet


def test_msgpack_encode_sends_binary_packet_types_as_their_plain_types() -> None:
    # No BINARY_EVENT/BINARY_ACK on this wire: a caller's binary type is sent as EVENT/ACK.
    assert encode_msgpack(Packet(T.BINARY_EVENT, "/", ["e", b"x"], None, 1)) == encode_msgpack(
        Packet(T.EVENT, "/", ["e", b"x"])
    )
    assert decode_msgpack(encode_msgpack(Packet(T.BINARY_ACK, "/", [b"x"], 3, 1))[0]) == Packet(
        T.ACK, "/", [b"x"], 3
    )


def test_msgpack_encode_makes_huge_integers_javascript_numbers() -> None:
    (message,) = encode_msgpack(Packet(T.EVENT, "/", ["n", 2**64, -(2**70), 10**400, 5]))
    assert decode_msgpack(message).data == ["n", float(2**64), float(-(2**70)), float("inf"), 5]


def test_msgpack_encode_refuses_what_msgpack_cannot_hold() -> None:
    with pytest.raises(TypeError):
        encode_msgpack(Packet(T.EVENT, "/", ["e", {1, 2}]))
    with pytest.raises(ValueError):  # a lone surrogate (NotepackError)
        encode_msgpack(Packet(T.EVENT, "/", ["e", "\ud800"]))


#: What Node sends that we never write, hex -> the packet we read.
NODE_ONLY: dict[str, tuple[str, Packet]] = {
    # socket.io-client's emit: {type, data, options: {compress}, nsp} (options ignored)
    "client_options": (
        "84a47479706502a46461746191a178a76f7074696f6e7381a8636f6d7072657373c3a36e7370a12f",
        Packet(T.EVENT, "/", ["x"]),
    ),
    # a CONNECT without auth: data undefined (notepack 2 keeps the member)
    "connect_undefined": ("83a47479706500a464617461d40000a36e7370a12f", Packet(T.CONNECT, "/")),
    # an id left undefined, and undefined in the arguments
    "id_undefined": (
        "84a47479706502a46461746192a165d40000a36e7370a12fa26964d40000",
        Packet(T.EVENT, "/", ["e", None]),
    ),
    # a Uint8Array (an ArrayBuffer view): extension 0
    "arraybuffer": (
        "83a47479706502a46461746192a165c702000304a36e7370a12f",
        Packet(T.EVENT, "/", ["e", b"\x03\x04"]),
    ),
    # keys in another order, float 32, uint 64, int 16
    "order_and_numbers": (
        "84a36e7370a12fa26964cd0100a47479706503a46461746193ca3fc00000cf0000000100000000d1ff00",
        Packet(T.ACK, "/", [1.5, 2**32, -256], 256),
    ),
    # an event named by a number (as the JSON decoder allows)
    "numeric_event_name": (
        "83a47479706502a46461746191cb3ff8000000000000a36e7370a12f",
        Packet(T.EVENT, "/", [1.5]),
    ),
}


@pytest.mark.parametrize("name", NODE_ONLY)
def test_msgpack_decode_reads_what_node_sends(name: str) -> None:
    encoded, packet = NODE_ONLY[name]
    assert decode_msgpack(bytes.fromhex(encoded)) == packet


def _map(**members: Any) -> bytes:
    return notepack_pack(members)


def nest(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


#: name -> a message that is no valid packet.
BAD: dict[str, bytes] = {
    "empty": b"",
    "not_msgpack": b"\xc1",
    "truncated": bytes.fromhex("83a47479706502a46461746192"),
    "trailing_bytes": bytes.fromhex("82a47479706500a36e7370a12f") + b"\xc0",
    "an_array": b"\x92\x02\xa1/",
    "a_string": b"\xa5hello",
    "nil": b"\xc0",
    "type_missing": _map(nsp="/", data=["e"]),
    "type_5": _map(type=5, nsp="/", data=["e"]),
    "type_6": _map(type=6, nsp="/", data=[]),
    "type_negative": _map(type=-1, nsp="/"),
    "type_string": _map(type="2", nsp="/", data=["e"]),
    "type_float": _map(type=2.0, nsp="/", data=["e"]),
    "type_bool": _map(type=True, nsp="/"),
    "nsp_missing": _map(type=2, data=["e"]),
    "nsp_without_slash": _map(type=2, nsp="chat", data=["e"]),
    "nsp_empty": _map(type=0, nsp=""),
    "nsp_number": _map(type=0, nsp=1),
    "nsp_nil": _map(type=0, nsp=None),
    "id_negative": _map(type=2, nsp="/", data=["e"], id=-1),
    "id_16_digits": _map(type=2, nsp="/", data=["e"], id=10**15),
    "id_string": _map(type=2, nsp="/", data=["e"], id="1"),
    "id_float": _map(type=2, nsp="/", data=["e"], id=1.5),
    "id_nil": _map(type=2, nsp="/", data=["e"], id=None),
    "id_bool": _map(type=3, nsp="/", data=[], id=True),
    "extra_key": _map(type=2, nsp="/", data=["e"], attachments=0),
    "options_not_a_map": _map(type=2, nsp="/", data=["e"], options=[1]),
    "event_data_nil": _map(type=2, nsp="/", data=None),
    "event_data_missing": _map(type=2, nsp="/"),
    "event_data_empty": _map(type=2, nsp="/", data=[]),
    "event_data_map": _map(type=2, nsp="/", data={"a": 1}),
    "event_reserved_name": _map(type=2, nsp="/", data=["connect"]),
    "event_name_list": _map(type=2, nsp="/", data=[["e"]]),
    "event_name_bool": _map(type=2, nsp="/", data=[True]),
    "event_name_binary": _map(type=2, nsp="/", data=[b"e"]),
    # Found by fuzzing: msgpack-python lets a ``bin`` map key through; notepack writes strings.
    "binary_map_key": bytes.fromhex("83a47479706502a36e7370a12fa46461746192a165")
    + bytes.fromhex("81c4016b01"),
    "ack_data_map": _map(type=3, nsp="/", data={}, id=1),
    "ack_data_missing": _map(type=3, nsp="/", id=1),
    "connect_data_list": _map(type=0, nsp="/", data=[]),
    "connect_data_string": _map(type=0, nsp="/", data="x"),
    "connect_data_nil": _map(type=0, nsp="/", data=None),
    "disconnect_with_data": _map(type=1, nsp="/", data={}),
    "connect_error_without_data": _map(type=4, nsp="/"),
    "connect_error_list": _map(type=4, nsp="/", data=[]),
    "too_deep": _map(type=2, nsp="/", data=["e", nest(128)]),
    "far_too_deep": bytes.fromhex("83a47479706502a36e7370a12fa464617461")
    + b"\x92\xa1e"
    + b"\x91" * 100_000
    + b"\xc0",
    "extension_1": bytes.fromhex("83a47479706502a36e7370a12fa46461746192a165d5010000"),
    "timestamp": bytes.fromhex("83a47479706502a36e7370a12fa46461746192a165d6ff00000001"),
    "timestamp_top": bytes.fromhex("d6ff00000001"),
    "int_map_key": bytes.fromhex("83a47479706502a36e7370a12f01c0"),
    "huge_length": bytes.fromhex("83a47479706502a36e7370a12fa464617461dd7fffffff"),
}


@pytest.mark.parametrize("name", BAD)
def test_msgpack_decode_refuses(name: str) -> None:
    with pytest.raises(PacketError):
        decode_msgpack(BAD[name])


def test_msgpack_decode_takes_non_finite_event_names_as_the_reference_parser() -> None:
    # A number is a valid name (typeof NaN and Infinity is "number"), as decode_text("2[1e999]").
    for name in (math.inf, -math.inf):
        assert decode_msgpack(_map(type=2, nsp="/", data=[name])).data == [name]
    assert math.isnan(decode_msgpack(_map(type=2, nsp="/", data=[math.nan])).data[0])


def test_msgpack_depth_limit_is_the_json_decoders() -> None:
    deepest_json = ["e", nest(127)]  # 128 levels with the arguments' array
    assert decode_text("2" + json.dumps(deepest_json)).data == deepest_json
    with pytest.raises(PacketError):
        decode_text("2" + json.dumps(["e", nest(128)]))
    assert decode_msgpack(_map(type=2, nsp="/", data=deepest_json)).data == deepest_json


def test_msgpack_decoder_takes_binary_only() -> None:
    decoder = MsgpackDecoder(10)
    assert decoder.partial is None and not decoder.pending
    with pytest.raises(PacketError):
        decoder.receive_text('2["e"]')
    packet, encoded = ENCODED["event_binary_inline"]
    assert decoder.receive_binary(bytes.fromhex(encoded)) == packet
    decoder.reset()
    assert decoder.partial is None


def test_msgpack_decode_messages_wants_exactly_one_binary_message() -> None:
    packet, encoded = ENCODED["event"]
    assert decode_msgpack_messages([bytes.fromhex(encoded)]) == packet
    for messages in ([], [bytes.fromhex(encoded)] * 2, ['2["e"]']):
        with pytest.raises(PacketError):
            decode_msgpack_messages(messages)  # type: ignore[arg-type]


# -- the seam -------------------------------------------------------------------------------------


def test_parser_named_gives_each_parser() -> None:
    assert parser_named("json") is JSON_PARSER
    assert isinstance(JSON_PARSER.decoder(10), PacketDecoder) and JSON_PARSER.text
    msgpack_parser = parser_named("msgpack")
    assert msgpack_parser.name == "msgpack" and not msgpack_parser.text
    assert parser_named(msgpack_parser) is msgpack_parser
    with pytest.raises(ValueError, match="unknown parser 'xml'"):
        parser_named("xml")


@pytest.mark.parametrize("name", ["json", "msgpack"])
def test_parser_round_trips_a_packet(name: str) -> None:
    parser = parser_named(name)
    packet = Packet(T.EVENT, "/chat", ["e", b"\x00", {"k": [1, None]}], 5)
    messages = parser.encode(packet)
    decoder = parser.decoder(10)
    decoded = None
    for message in messages:
        decoded = (
            decoder.receive_text(message)
            if isinstance(message, str)
            else decoder.receive_binary(message)
        )
    assert decoded is not None and decoded[:4] == packet[:4]
    assert parser.decode_messages(messages)[:4] == packet[:4]


def test_msgpack_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "msgpack", None)  # import msgpack -> ImportError
    monkeypatch.setattr(notepack_module, "_msgpack", None)
    with pytest.raises(MsgpackMissingError, match=r"pip install 'sio-chat\[msgpack\]'"):
        parser_named("msgpack")
    assert parser_named("json") is JSON_PARSER


def test_the_core_does_not_import_msgpack() -> None:
    code = (
        "import sys, sio, cli.main, sio.protocol\n"
        "sio.Server(parser='json')\n"
        "assert 'msgpack' not in sys.modules, 'msgpack imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
