"""Socket.IO packets (text part): every wire case runs both ways, then every refused form."""

from __future__ import annotations

import math

import pytest

from sio.errors import PacketError
from sio.protocol.packet import (
    MAX_ACK_ID_DIGITS,
    MAX_ATTACHMENTS,
    MAX_DEPTH,
    RESERVED_EVENTS,
    Packet,
    PacketType,
    decode_text,
    dumps,
    encode_text,
)

CONNECT = PacketType.CONNECT
DISCONNECT = PacketType.DISCONNECT
EVENT = PacketType.EVENT
ACK = PacketType.ACK
CONNECT_ERROR = PacketType.CONNECT_ERROR
BINARY_EVENT = PacketType.BINARY_EVENT
BINARY_ACK = PacketType.BINARY_ACK


def placeholder(num: int) -> dict[str, object]:
    return {"_placeholder": True, "num": num}


# (id, packet, text): encode_text(packet) == text and decode_text(text) == packet.
WIRE_CASES: list[tuple[str, Packet, str]] = [
    # CONNECT: the client's request (auth optional) and the server's reply.
    ("connect", Packet(CONNECT), "0"),
    ("connect-ns", Packet(CONNECT, "/admin"), "0/admin,"),
    ("connect-ns-non-ascii", Packet(CONNECT, "/admin™"), "0/admin™,"),
    ("connect-auth", Packet(CONNECT, "/", {"token": "123"}), '0{"token":"123"}'),
    ("connect-auth-empty", Packet(CONNECT, "/", {}), "0{}"),
    (
        "connect-ns-auth",
        Packet(CONNECT, "/admin™", {"token": "é", "n": [1, 2]}),
        '0/admin™,{"token":"é","n":[1,2]}',
    ),
    (
        "connect-reply",
        Packet(CONNECT, "/", {"sid": "oSO0OpakMV_3jnilAAAA"}),
        '0{"sid":"oSO0OpakMV_3jnilAAAA"}',
    ),
    (
        "connect-reply-ns",
        Packet(CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
        '0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}',
    ),
    # DISCONNECT never has a payload.
    ("disconnect", Packet(DISCONNECT), "1"),
    ("disconnect-ns", Packet(DISCONNECT, "/admin"), "1/admin,"),
    ("disconnect-ns-non-ascii", Packet(DISCONNECT, "/admin™"), "1/admin™,"),
    # EVENT: [name, ...args], optional ack id right before the JSON.
    ("event", Packet(EVENT, "/", ["foo"]), '2["foo"]'),
    ("event-args", Packet(EVENT, "/", ["a", 1, {}]), '2["a",1,{}]'),
    ("event-ns", Packet(EVENT, "/admin", ["bar"]), '2/admin,["bar"]'),
    ("event-ack", Packet(EVENT, "/", ["foo"], 12), '212["foo"]'),
    ("event-ack-zero", Packet(EVENT, "/", ["foo"], 0), '20["foo"]'),
    ("event-ns-ack", Packet(EVENT, "/admin", ["bar"], 13), '2/admin,13["bar"]'),
    ("event-ns-non-ascii-ack", Packet(EVENT, "/admin™", ["a", 1], 456), '2/admin™,456["a",1]'),
    (
        "event-ack-max-digits",
        Packet(EVENT, "/", ["a"], int("9" * MAX_ACK_ID_DIGITS)),
        "2" + "9" * MAX_ACK_ID_DIGITS + '["a"]',
    ),
    ("event-number-name", Packet(EVENT, "/", [1, "a", {}]), '2[1,"a",{}]'),
    ("event-negative-number-name", Packet(EVENT, "/", [-1]), "2[-1]"),
    ("event-float-name", Packet(EVENT, "/", [1.5, "x"]), '2[1.5,"x"]'),
    ("event-empty-string-name", Packet(EVENT, "/", [""]), '2[""]'),
    (
        "event-json-values",
        Packet(EVENT, "/", ["a", {"b": [1, 2.5, True, False, None, "c"]}]),
        '2["a",{"b":[1,2.5,true,false,null,"c"]}]',
    ),
    (
        "event-placeholder-lookalike",
        Packet(EVENT, "/", ["a", placeholder(0)]),
        '2["a",{"_placeholder":true,"num":0}]',
    ),
    # Non-ASCII stays raw (JSON.stringify does not escape it); only what JSON must escape is.
    ("event-non-ascii", Packet(EVENT, "/", ["héllo", "€", "😀"]), '2["héllo","€","😀"]'),
    ("event-line-separators", Packet(EVENT, "/", ["\u2028\u2029"]), '2["\u2028\u2029"]'),
    (
        "event-escapes",
        Packet(EVENT, "/", ['q"b\\s/n\n\t\x01\x7f']),
        '2["q\\"b\\\\s/n\\n\\t\\u0001\x7f"]',
    ),
    # A lone surrogate (from a "\ud800" escape) cannot be UTF-8: it is escaped back, and with it
    # every other non-ASCII character of that payload (still the same JSON value).
    ("event-lone-surrogate", Packet(EVENT, "/", ["\ud800"]), '2["\\ud800"]'),
    (
        "event-lone-surrogate-mixed",
        Packet(EVENT, "/", ["\udfff", "é"]),
        '2["\\udfff","\\u00e9"]',
    ),
    # ACK: always an array, possibly empty.
    ("ack", Packet(ACK, "/", ["a", 1, {}], 123), '3123["a",1,{}]'),
    ("ack-empty", Packet(ACK, "/", [], 1), "31[]"),
    ("ack-null", Packet(ACK, "/", [None], 1), "31[null]"),
    ("ack-ns", Packet(ACK, "/admin™", [], 7), "3/admin™,7[]"),
    ("ack-no-id", Packet(ACK, "/", ["x"]), '3["x"]'),
    # CONNECT_ERROR: a string (v4 servers) or an object.
    ("connect-error-string", Packet(CONNECT_ERROR, "/", "Unauthorized"), '4"Unauthorized"'),
    (
        "connect-error-object",
        Packet(CONNECT_ERROR, "/", {"message": "Not authorized"}),
        '4{"message":"Not authorized"}',
    ),
    (
        "connect-error-ns-data",
        Packet(CONNECT_ERROR, "/admin™", {"message": "no", "data": {"code": 3}}),
        '4/admin™,{"message":"no","data":{"code":3}}',
    ),
    # BINARY_EVENT / BINARY_ACK: "<count>-" after the type, placeholders in the JSON.
    (
        "binary-event",
        Packet(BINARY_EVENT, "/", ["a", placeholder(0)], None, 1),
        '51-["a",{"_placeholder":true,"num":0}]',
    ),
    (
        "binary-event-ns-two",
        Packet(BINARY_EVENT, "/admin", ["baz", placeholder(0), placeholder(1)], None, 2),
        '52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
    ),
    (
        "binary-event-ns-ack",
        Packet(BINARY_EVENT, "/admin", ["a", placeholder(0), {"b": placeholder(1)}], 15, 2),
        '52-/admin,15["a",{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1}}]',
    ),
    (
        "binary-event-non-ascii-ns",
        Packet(BINARY_EVENT, "/admin™", ["é", placeholder(0)], 1, 1),
        '51-/admin™,1["é",{"_placeholder":true,"num":0}]',
    ),
    ("binary-event-zero", Packet(BINARY_EVENT, "/", ["a"], None, 0), '50-["a"]'),
    (
        "binary-event-max-attachments",
        Packet(BINARY_EVENT, "/", ["a"], None, MAX_ATTACHMENTS),
        f'5{MAX_ATTACHMENTS}-["a"]',
    ),
    (
        "binary-ack",
        Packet(BINARY_ACK, "/back", ["a", placeholder(0), {}], 127, 1),
        '61-/back,127["a",{"_placeholder":true,"num":0},{}]',
    ),
    (
        "binary-ack-first-arg",
        Packet(BINARY_ACK, "/", [placeholder(0)], 3, 1),
        '61-3[{"_placeholder":true,"num":0}]',
    ),
]


@pytest.mark.parametrize(
    ("packet", "text"), [c[1:] for c in WIRE_CASES], ids=[c[0] for c in WIRE_CASES]
)
def test_packet_encode(packet: Packet, text: str) -> None:
    assert encode_text(packet) == text


@pytest.mark.parametrize(
    ("packet", "text"), [c[1:] for c in WIRE_CASES], ids=[c[0] for c in WIRE_CASES]
)
def test_packet_decode(packet: Packet, text: str) -> None:
    decoded = decode_text(text)
    assert decoded == packet
    assert type(decoded.type) is PacketType


@pytest.mark.parametrize(
    ("packet", "text"), [c[1:] for c in WIRE_CASES], ids=[c[0] for c in WIRE_CASES]
)
def test_packet_encoding_is_valid_utf8(packet: Packet, text: str) -> None:
    # What goes out in a websocket text frame must encode; this fails on a lone surrogate.
    encode_text(packet).encode("utf-8")


# (id, text, packet): forms the encoder never writes, but that decode to a sensible packet.
DECODE_ONLY_CASES: list[tuple[str, str, Packet]] = [
    ("connect-ns-no-comma", "0/custom", Packet(CONNECT, "/custom")),
    ("disconnect-ns-no-comma", "1/admin™", Packet(DISCONNECT, "/admin™")),
    ("ack-id-leading-zeros", '2007["a"]', Packet(EVENT, "/", ["a"], 7)),
    ("ack-id-zero-padded", "3/x,00[]", Packet(ACK, "/x", [], 0)),
    ("json-whitespace", '2[ "a" , 1 ]', Packet(EVENT, "/", ["a", 1])),
    ("json-trailing-whitespace", '2["a"]\n', Packet(EVENT, "/", ["a"])),
    ("json-exponent", '2["a",1E2]', Packet(EVENT, "/", ["a", 100.0])),
    ("json-unicode-escape", '2["\\u00e9\\ud83d\\ude00"]', Packet(EVENT, "/", ["é😀"])),
    ("json-duplicate-key-last-wins", '0{"a":1,"a":2}', Packet(CONNECT, "/", {"a": 2})),
    ("disconnect-ack-id", "11", Packet(DISCONNECT, "/", None, 1)),
    # Brackets inside strings are no nesting: this shallow payload is fine.
    (
        "brackets-in-string",
        '2["e","' + "[{" * MAX_DEPTH + '"]',
        Packet(EVENT, "/", ["e", "[{" * MAX_DEPTH]),
    ),
]


@pytest.mark.parametrize(
    ("text", "packet"), [c[1:] for c in DECODE_ONLY_CASES], ids=[c[0] for c in DECODE_ONLY_CASES]
)
def test_packet_decode_lenient_forms(text: str, packet: Packet) -> None:
    assert decode_text(text) == packet


def test_packet_decode_huge_number_is_infinity_like_json_parse() -> None:
    # JSON.parse("1.5e999") is Infinity, a number: a valid event name for the reference parser.
    packet = decode_text("2[1.5e999]")
    assert packet.type is EVENT
    assert packet.data == [math.inf]


def test_packet_encode_non_finite_numbers_as_null() -> None:
    # As JSON.stringify does: NaN/Infinity are not JSON and would break every JS peer.
    packet = Packet(EVENT, "/", ["e", math.inf, -math.inf, {"n": math.nan}, (math.nan,)])
    assert encode_text(packet) == '2["e",null,null,{"n":null},[null]]'


def test_packet_decoded_infinity_reencodes_as_json() -> None:
    echoed = decode_text('2["e",-1e999]')
    assert encode_text(echoed) == '2["e",null]'


def test_packet_encode_tuple_as_array() -> None:
    assert encode_text(Packet(EVENT, "/", ("a", (1, 2)))) == '2["a",[1,2]]'


def test_packet_encode_ignores_attachments_of_non_binary_types() -> None:
    assert encode_text(Packet(EVENT, "/", ["a"], None, 3)) == '2["a"]'


# -- dumps --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"a": [1, 2]}, '{"a":[1,2]}'),
        ("€", '"€"'),
        ("\ud83d", '"\\ud83d"'),
        (["\ud83d", "€"], '["\\ud83d","\\u20ac"]'),
        ("\ud83d\ude00", '"\\ud83d\\ude00"'),
        ("😀", '"😀"'),
        ([math.nan, "€"], '[null,"€"]'),
        ([math.inf, "\udc00"], '[null,"\\udc00"]'),
        (None, "null"),
    ],
    ids=["compact", "non-ascii", "lone", "lone-mixed", "pair", "emoji", "nan", "inf-lone", "null"],
)
def test_dumps_json_stringify_style(data: object, text: str) -> None:
    result = dumps(data)
    assert result == text
    result.encode("utf-8")


def test_dumps_circular_raises_value_error() -> None:
    loop: list[object] = [math.nan]
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumps(loop)


def test_dumps_shared_non_cyclic_containers_are_fine() -> None:
    shared = [math.inf]
    assert dumps([shared, shared]) == "[[null],[null]]"


# -- refused forms ------------------------------------------------------------------------------


def nested(depth: int) -> str:
    """An EVENT whose payload is ``depth + 1`` arrays deep."""
    return '2["e",' + "[" * depth + "]" * depth + "]"


# (id, text, message pattern): each raises PacketError; the reference parser refuses each too
# (checked against socket.io-parser 4.2.6 / 4.2.7).
REFUSED_BY_REFERENCE: list[tuple[str, str, str]] = [
    # packet type
    ("type-9", "9", "unknown packet type"),
    ("type-999", "999", "unknown packet type"),
    ("type-7", '7["a"]', "unknown packet type"),
    ("type-letters", "abc", "unknown packet type"),
    ("type-minus", "-1", "unknown packet type"),
    ("type-json", '["a"]', "unknown packet type"),
    # attachment count
    ("attachments-missing", "5", "illegal attachments"),
    ("attachments-no-dash", "51", "illegal attachments"),
    ("attachments-no-dash-payload", '51["a",{"_placeholder":true,"num":0}]', "illegal attachments"),
    ("attachments-letter", "5a-", "illegal attachments"),
    ("attachments-letter-payload", '5a-["a"]', "illegal attachments"),
    ("attachments-decimal", "51.23-", "illegal attachments"),
    ("attachments-negative", '5-1-["a"]', "illegal attachments"),
    ("binary-ack-no-dash", "61/admin,1[]", "illegal attachments"),
    ("type-arabic-digit", "\u0662[]", "unknown packet type"),
    ("type-fullwidth-digit", '\uff12["a"]', "unknown packet type"),
    ("attachments-arabic-digit", '5\u0661-["a"]', "illegal attachments"),
    ("attachments-superscript", '5\u00b2-["a"]', "illegal attachments"),
    ("attachments-fullwidth", '5\uff11-["a"]', "illegal attachments"),
    (
        "attachments-too-many",
        f'5{MAX_ATTACHMENTS + 1}-["a"]',
        "too many attachments",
    ),
    ("attachments-way-too-many", '59999-["a"]', "too many attachments"),
    (
        "binary-ack-too-many",
        f"6{MAX_ATTACHMENTS + 1}-1[]",
        "too many attachments",
    ),
    # JSON
    ("json-unterminated", '2["a"', "invalid JSON"),
    ("json-unterminated-ns", '2/admin,"invalid', "invalid JSON"),
    ("json-single-quotes", "2['a']", "invalid JSON"),
    ("json-trailing-comma", '2["a",]', "invalid JSON"),
    ("json-extra-data", '2["a"]x', "invalid JSON"),
    ("json-two-arrays", '2["a"]["b"]', "invalid JSON"),
    ("json-nan", '2["a",NaN]', "invalid JSON"),
    ("json-infinity", '2["a",Infinity]', "invalid JSON"),
    ("json-minus-infinity", '2["a",-Infinity]', "invalid JSON"),
    ("json-nan-auth", '0{"n":NaN}', "invalid JSON"),
    ("json-raw-control-char", '2["a\x01"]', "invalid JSON"),
    ("json-leading-zero", "2[01]", "invalid JSON"),
    ("json-bare-word", "2abc", "invalid JSON"),
    ("ack-id-then-garbage", '2abc["a"]', "invalid JSON"),
    ("ns-ack-id-then-garbage", '2/admin,1x["a"]', "invalid JSON"),
    ("ack-id-in-array", '2["a"]1', "invalid JSON"),
    ("double-type", '442["some","data"', "invalid JSON"),
    ("ack-id-arabic-digits", '2\u0661["a"]', "invalid JSON"),
    ("too-deep-unclosed-10000", '2["e",' + "[" * 10_000, "JSON|nested"),
    # payload shape per type
    ("connect-array", "0[]", "invalid payload for CONNECT"),
    ("connect-string", '0/admin,"invalid"', "invalid payload for CONNECT"),
    ("connect-number", "0/admin,-1.5", "invalid payload for CONNECT"),
    ("connect-null", "0null", "invalid payload for CONNECT"),
    ("connect-ns-null", "0/admin,null", "invalid payload for CONNECT"),
    ("disconnect-object", "1/admin,{}", "invalid payload for DISCONNECT"),
    ("disconnect-array", '1["a"]', "invalid payload for DISCONNECT"),
    ("disconnect-string", '1"bye"', "invalid payload for DISCONNECT"),
    ("disconnect-null", "1null", "invalid payload for DISCONNECT"),
    ("event-object", "2/admin,{}", "invalid payload for EVENT"),
    ("event-object-root", "2{}", "invalid payload for EVENT"),
    ("event-string", '2"a"', "invalid payload for EVENT"),
    ("event-null", "2null", "invalid payload for EVENT"),
    ("event-empty-array", "2[]", "invalid payload for EVENT"),
    ("event-name-null", '2[null,"bar"]', "invalid payload for EVENT"),
    ("event-name-true", '2[true,"foo"]', "invalid payload for EVENT"),
    ("event-name-false", "2[false]", "invalid payload for EVENT"),
    ("event-name-object", '2[{"toString":"foo"}]', "invalid payload for EVENT"),
    ("event-name-array", '2[["a"]]', "invalid payload for EVENT"),
    (
        "binary-event-object",
        '51-{"a":{"_placeholder":true,"num":0}}',
        "invalid payload for BINARY_EVENT",
    ),
    ("binary-event-name-null", "51-[null]", "invalid payload for BINARY_EVENT"),
    ("ack-object", "31{}", "invalid payload for ACK"),
    ("ack-string", '3/admin,1"a"', "invalid payload for ACK"),
    ("ack-null", "31null", "invalid payload for ACK"),
    ("binary-ack-object", "61-1{}", "invalid payload for BINARY_ACK"),
    ("connect-error-array", '4["a"]', "invalid payload for CONNECT_ERROR"),
    ("connect-error-number", "4-1", "invalid payload for CONNECT_ERROR"),
    ("connect-error-true", "4true", "invalid payload for CONNECT_ERROR"),
    ("connect-error-null", "4null", "invalid payload for CONNECT_ERROR"),
    *(
        (f"reserved-{name}", f'2["{name}","x"]', "invalid payload for EVENT")
        for name in sorted(RESERVED_EVENTS)
    ),
    *(
        (
            f"reserved-binary-{name}",
            f'51-["{name}",{{"_placeholder":true,"num":0}}]',
            "BINARY_EVENT",
        )
        for name in sorted(RESERVED_EVENTS)
    ),
]

# (id, text, message pattern): refused here although the reference parser lets them through.
# Deliberate: no ambiguity in counts and ids, bounded work per packet, no empty EVENT/ACK.
STRICTER_THAN_REFERENCE: list[tuple[str, str, str]] = [
    ("empty", "", "unknown packet type"),  # reference: Number("") is 0, a CONNECT
    ("space", " ", "unknown packet type"),  # reference: Number(" ") is 0, a CONNECT
    ("attachments-empty", '5-["a"]', "illegal attachments"),  # 4.2.6: 0; 4.2.7 refuses
    ("attachments-space", '5 1-["a"]', "illegal attachments"),  # reference: Number(" 1") is 1
    ("attachments-plus", '5+1-["a"]', "illegal attachments"),
    ("attachments-hex", '50x1-["a"]', "illegal attachments"),  # Number("0x1") is 1
    ("attachments-exponent", '51e0-["a"]', "illegal attachments"),
    ("attachments-five-digits", '500001-["a"]', "illegal attachments"),
    (
        "ack-id-too-long",
        "2" + "1" * (MAX_ACK_ID_DIGITS + 1) + '["a"]',
        "ack id too long",
    ),
    (
        "ack-id-too-long-ns",
        "3/admin," + "9" * (MAX_ACK_ID_DIGITS + 1) + "[]",
        "ack id too long",
    ),
    ("ack-id-way-too-long", "2" + "1" * 5000 + '["a"]', "ack id too long"),
    ("event-no-payload", "2", "invalid payload for EVENT"),
    ("event-ns-no-payload", "2/admin,", "invalid payload for EVENT"),
    ("event-ns-no-comma", '2/admin["a"]', "invalid payload for EVENT"),  # all of it is the ns
    ("event-ack-no-payload", "212", "invalid payload for EVENT"),
    ("binary-event-no-payload", "51-", "invalid payload for BINARY_EVENT"),
    ("ack-no-payload", "31", "invalid payload for ACK"),
    ("connect-error-no-payload", "4", "invalid payload for CONNECT_ERROR"),
    ("json-huge-integer", "2[" + "1" * 5000 + "]", "invalid JSON"),  # int() digit limit
    ("too-deep", nested(MAX_DEPTH), "nested too deeply"),
    ("too-deep-plus-5", nested(MAX_DEPTH + 5), "nested too deeply"),
    (
        "too-deep-objects",
        '2["e",' + '{"a":' * (MAX_DEPTH + 5) + "1" + "}" * (MAX_DEPTH + 5) + "]",
        "nested too deeply",
    ),
    (
        "too-deep-auth",
        "0" + '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),
        "nested too deeply",
    ),
    ("too-deep-10000", nested(10_000), "JSON|nested"),
    ("too-deep-100000", "2" + "[" * 100_000 + "]" * 100_000, "JSON|nested"),
]


@pytest.mark.parametrize(
    ("text", "message"),
    [c[1:] for c in REFUSED_BY_REFERENCE + STRICTER_THAN_REFERENCE],
    ids=[c[0] for c in REFUSED_BY_REFERENCE + STRICTER_THAN_REFERENCE],
)
def test_packet_decode_refuses(text: str, message: str) -> None:
    # PacketError and nothing else: never RecursionError, ValueError or IndexError.
    with pytest.raises(PacketError, match=message):
        decode_text(text)


def test_packet_decode_depth_limit_boundary() -> None:
    # MAX_DEPTH levels of arrays in all (the event array is the first) are accepted.
    packet = decode_text(nested(MAX_DEPTH - 1))
    inner = packet.data[1]
    depth = 2
    while inner:
        inner = inner[0]
        depth += 1
    assert depth == MAX_DEPTH


def test_packet_decode_max_attachments_argument() -> None:
    text = "53-" + dumps(["a", placeholder(0), placeholder(1), placeholder(2)])
    assert decode_text(text, max_attachments=3).attachments == 3
    with pytest.raises(PacketError, match="too many attachments"):
        decode_text(text, max_attachments=2)


def test_packet_decode_number_event_names() -> None:
    for text, name in [("2[0]", 0), ('2[42,"x"]', 42), ("2[-3.25]", -3.25), ("2[1e3]", 1000.0)]:
        packet = decode_text(text)
        assert packet.data[0] == name
        assert type(packet.data[0]) is type(name)


def test_packet_decode_reserved_names_are_case_sensitive() -> None:
    assert decode_text('2["Connect"]').data == ["Connect"]
    assert decode_text('2["connect "]').data == ["connect "]


def test_packet_reserved_names_may_be_arguments() -> None:
    assert decode_text('2["e","connect"]').data == ["e", "connect"]
    assert decode_text('31["disconnect"]').data == ["disconnect"]


def test_packet_reserved_events_are_the_reference_list() -> None:
    assert (
        frozenset(
            {
                "connect",
                "connect_error",
                "disconnect",
                "disconnecting",
                "newListener",
                "removeListener",
            }
        )
        == RESERVED_EVENTS
    )


def test_packet_type_values_are_the_protocol_numbers() -> None:
    assert [(t.name, int(t)) for t in PacketType] == [
        ("CONNECT", 0),
        ("DISCONNECT", 1),
        ("EVENT", 2),
        ("ACK", 3),
        ("CONNECT_ERROR", 4),
        ("BINARY_EVENT", 5),
        ("BINARY_ACK", 6),
    ]


def test_packet_defaults() -> None:
    packet = Packet(EVENT)
    assert (packet.namespace, packet.data, packet.id, packet.attachments) == ("/", None, None, 0)
