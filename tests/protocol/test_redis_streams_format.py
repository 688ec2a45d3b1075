"""The Redis Streams adapter's wire format (``cluster/redis/streams_format.py``) against what
Node's ``@socket.io/redis-streams-adapter`` 0.3.1 wrote (captured from Redis: the stream's
entries with XRANGE, the pub/sub payloads with PSUBSCRIBE, a session with MONITOR): decoded to
our messages, and encoded back byte for byte. Garbage is a ``StreamFormatError``, never a crash.
"""

from __future__ import annotations

import base64
import contextlib
import random
from collections.abc import Callable
from typing import Any

import msgpack
import pytest

from cluster.messages import ClusterMessage, EncodedPacket, MessageType
from cluster.redis import streams_format as fmt
from cluster.redis.streams_format import (
    StreamFormatError,
    decode_entry,
    decode_ephemeral,
    decode_session,
    encode_entry,
    encode_ephemeral,
    encode_session,
    entry_fields,
    is_ephemeral,
    is_offset,
    missed_packet,
    next_offset,
    offset_key,
    peer_pattern,
    peers_in,
    request_channel,
    response_channel,
    with_offset,
)
from sio.protocol import Packet, PacketType, Session, encode_messages

A = "3fe9d39c4cbe435d"  # the requesting Node server
B = "c33436a9fce52879"  # the answering one

#: XRANGE of Node's stream: (id, fields).
NODE_ENTRIES = [
    (
        "1796122554446-0",
        ["uid", A, "nsp", "/", "type", "3", "data",
         '{"packet":{"type":2,"data":["plain","hello",1,{"x":null}]},'
         '"opts":{"rooms":[],"except":[],"flags":{}}}'],
    ),
    (
        "1796122554446-1",
        ["uid", A, "nsp", "/", "type", "3", "data",
         "gqZwYWNrZXSCpHR5cGUCpGRhdGGTo2JpbsQDAAH/pWFmdGVypG9wdHODpXJvb21zkaVyb29tMaZleGNlcHSRpX"
         "Jvb20ypWZsYWdzgA=="],
    ),
    (
        "1796122554446-2",
        ["uid", A, "nsp", "/", "type", "3", "data",
         '{"packet":{"type":2,"data":["vol",1]},'
         '"opts":{"rooms":[],"except":[],"flags":{"volatile":true}}}'],
    ),
    (
        "1796122554446-3",
        ["uid", "84142b8f1356954e", "nsp", "/other", "type", "3", "data",
         '{"packet":{"type":2,"data":["elsewhere","x"]},'
         '"opts":{"rooms":[],"except":[],"flags":{}}}'],
    ),
    (
        "1796122554446-4",
        ["uid", A, "nsp", "/", "type", "4", "data",
         '{"opts":{"rooms":["room1"],"except":[],"flags":{}},"rooms":["room3","room4"]}'],
    ),
    (
        "1796122554446-5",
        ["uid", A, "nsp", "/", "type", "5", "data",
         '{"opts":{"rooms":["room3"],"except":[],"flags":{}},"rooms":["room4"]}'],
    ),
    (
        "1796122554446-6",
        ["uid", A, "nsp", "/", "type", "6", "data",
         '{"opts":{"rooms":["nobody"],"except":[],"flags":{}},"close":true}'],
    ),
]  # fmt: skip

EMPTY_OPTS = {"rooms": [], "except": [], "flags": {}}

#: What each of those entries is, as our messages.
EXPECTED_ENTRIES = [
    ClusterMessage(
        A,
        "/",
        MessageType.BROADCAST,
        {
            "packet": Packet(PacketType.EVENT, "/", ["plain", "hello", 1, {"x": None}]),
            "opts": EMPTY_OPTS,
        },
    ),
    ClusterMessage(
        A,
        "/",
        MessageType.BROADCAST,
        {
            "packet": Packet(PacketType.EVENT, "/", ["bin", b"\x00\x01\xff", "after"]),
            "opts": {"rooms": ["room1"], "except": ["room2"], "flags": {}},
        },
    ),
    ClusterMessage(
        A,
        "/",
        MessageType.BROADCAST,
        {
            "packet": Packet(PacketType.EVENT, "/", ["vol", 1]),
            "opts": {"rooms": [], "except": [], "flags": {"volatile": True}},
        },
    ),
    ClusterMessage(
        "84142b8f1356954e",
        "/other",
        MessageType.BROADCAST,
        {"packet": Packet(PacketType.EVENT, "/other", ["elsewhere", "x"]), "opts": EMPTY_OPTS},
    ),
    ClusterMessage(
        A,
        "/",
        MessageType.SOCKETS_JOIN,
        {"opts": {"rooms": ["room1"], "except": [], "flags": {}}, "rooms": ["room3", "room4"]},
    ),
    ClusterMessage(
        A,
        "/",
        MessageType.SOCKETS_LEAVE,
        {"opts": {"rooms": ["room3"], "except": [], "flags": {}}, "rooms": ["room4"]},
    ),
    ClusterMessage(
        A,
        "/",
        MessageType.DISCONNECT_SOCKETS,
        {"opts": {"rooms": ["nobody"], "except": [], "flags": {}}, "close": True},
    ),
]

#: Node's pub/sub payloads (base64 here): (channel, payload).
NODE_PUBLISHED = [
    (
        "capture#/#",
        "hKR0eXBlB6RkYXRhgqRvcHRzg6Vyb29tc5CmZXhjZXB0kKVmbGFnc4CpcmVxdWVzdElksGU3MDI0MDI0MTAyMjdk"
        "NmajdWlksDNmZTlkMzljNGNiZTQzNWSjbnNwoS8=",
    ),
    (
        "capture#/#",
        "hKR0eXBlCaRkYXRhgqlyZXF1ZXN0SWSwYzkwOTM2YzlkYWU4OGViM6ZwYWNrZXSSpHBpbmeicDGjdWlksDNmZTlk"
        "MzljNGNiZTQzNWSjbnNwoS8=",
    ),
    (
        f"capture#/#{A}#",
        "hKR0eXBlCqRkYXRhgqlyZXF1ZXN0SWSwYzkwOTM2YzlkYWU4OGViM6ZwYWNrZXSCpHBvbmehQqNiaW7EAQejdWlk"
        "sGMzMzQzNmE5ZmNlNTI4NzmjbnNwoS8=",
    ),
    (
        "capture#/#",
        "hKR0eXBlCaRkYXRhgaZwYWNrZXSSpHBpbmelbm9hY2ujdWlksDNmZTlkMzljNGNiZTQzNWSjbnNwoS8=",
    ),
    (
        "capture#/#",
        "hKR0eXBlA6RkYXRhg6ZwYWNrZXSCpHR5cGUCpGRhdGGSqHF1ZXN0aW9uonExqXJlcXVlc3RJZLAwZTY5NDIzMGRk"
        "MmJhNjAypG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgad0aW1lb3V0zQPoo3VpZLAzZmU5ZDM5YzRjYmU0MzVk"
        "o25zcKEv",
    ),
    (
        f"capture#/#{A}#",
        "hKR0eXBlC6RkYXRhgqlyZXF1ZXN0SWSwMGU2OTQyMzBkZDJiYTYwMqtjbGllbnRDb3VudAGjdWlksGMzMzQzNmE5"
        "ZmNlNTI4NzmjbnNwoS8=",
    ),
    (
        f"capture#/#{A}#",
        "hKR0eXBlDKRkYXRhgqlyZXF1ZXN0SWSwMGU2OTQyMzBkZDJiYTYwMqZwYWNrZXSpYW5zd2VyIHExo3VpZLBjMzM0"
        "MzZhOWZjZTUyODc5o25zcKEv",
    ),
]

EXPECTED_PUBLISHED = [
    ClusterMessage(
        A, "/", MessageType.FETCH_SOCKETS, {"opts": EMPTY_OPTS, "requestId": "e702402410227d6f"}
    ),
    ClusterMessage(
        A,
        "/",
        MessageType.SERVER_SIDE_EMIT,
        {"requestId": "c90936c9dae88eb3", "packet": ["ping", "p1"]},
    ),
    ClusterMessage(
        B,
        "/",
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        {"requestId": "c90936c9dae88eb3", "packet": {"pong": "B", "bin": b"\x07"}},
    ),
    ClusterMessage(A, "/", MessageType.SERVER_SIDE_EMIT, {"packet": ["ping", "noack"]}),
    ClusterMessage(
        A,
        "/",
        MessageType.BROADCAST,
        {
            "packet": Packet(PacketType.EVENT, "/", ["question", "q1"]),
            "requestId": "0e694230dd2ba602",
            "opts": {"rooms": [], "except": [], "flags": {"timeout": 1000}},
        },
    ),
    ClusterMessage(
        B,
        "/",
        MessageType.BROADCAST_CLIENT_COUNT,
        {"requestId": "0e694230dd2ba602", "clientCount": 1},
    ),
    ClusterMessage(
        B, "/", MessageType.BROADCAST_ACK, {"requestId": "0e694230dd2ba602", "packet": "answer q1"}
    ),
]

#: A FETCH_SOCKETS_RESPONSE of Node's: the socket's data holds a Date (msgpack timestamp).
NODE_FETCH_RESPONSE = (
    "hKR0eXBlCKRkYXRhgqlyZXF1ZXN0SWSwZTcwMjQwMjQxMDIyN2Q2Zqdzb2NrZXRzkYSiaWS0d1BPNGlxejNhcFNjZzBJ"
    "eUFBQUWpaGFuZHNoYWtliadoZWFkZXJzhrVzZWMtd2Vic29ja2V0LXZlcnNpb26iMTOxc2VjLXdlYnNvY2tldC1rZXm4"
    "RzBsdVEyUTIxSzY2d05veW5FVytndz09qmNvbm5lY3Rpb26nVXBncmFkZad1cGdyYWRlqXdlYnNvY2tldLhzZWMtd2Vi"
    "c29ja2V0LWV4dGVuc2lvbnPZKnBlcm1lc3NhZ2UtZGVmbGF0ZTsgY2xpZW50X21heF93aW5kb3dfYml0c6Rob3N0rzEy"
    "Ny4wLjAuMTozNDQ5M6R0aW1l2T5UdWUgRGVjIDAxIDIwMjYgMTA6NTU6NTQgR01UKzAwMDAgKENvb3JkaW5hdGVkIFVu"
    "aXZlcnNhbCBUaW1lKadhZGRyZXNzqTEyNy4wLjAuMad4ZG9tYWluwqZzZWN1cmXCpmlzc3VlZM8AAAGiMT8uyqN1cmzZ"
    "JS9zb2NrZXQuaW8vP0VJTz00JnRyYW5zcG9ydD13ZWJzb2NrZXSlcXVlcnmCo0VJT6E0qXRyYW5zcG9ydKl3ZWJzb2Nr"
    "ZXSkYXV0aIClcm9vbXORtHdQTzRpcXozYXBTY2cwSXlBQUFFpGRhdGGDpG5hbWWhQqVzaW5jZdf/oaXWAGWTfSWhbss/"
    "+AAAAAAAAKN1aWSwYzMzNDM2YTlmY2U1Mjg3OaNuc3ChLw=="
)

#: ``SET sio:session:<pid>`` of a Node server (its socket in room r1, data set by the app).
NODE_SESSION = (
    "hKNzaWS0akVjLWFTVnp5cElyMl9aOUFBQUKjcGlktE5uczdhbmZDclRlZDd5UkhBQUFDpXJvb21zkrRqRWMtYVNWenlw"
    "SXIyX1o5QUFBQqJyMaRkYXRhg6ZhbnN3ZXIqpHdoZW64MTk3MC0wMS0wMVQwMDowMDowMC4wMDBap25vdGhpbmfA"
)


def as_redis(fields: list[str]) -> list[bytes]:
    """Fields as XREAD and XRANGE give them (bulk strings)."""
    return [field.encode() for field in fields]


# -- the stream ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    list(zip(NODE_ENTRIES, EXPECTED_ENTRIES, strict=True)),
    ids=[entry[0] for entry in NODE_ENTRIES],
)
def test_node_entries_decode_and_encode_back_exactly(
    entry: tuple[str, list[str]], expected: ClusterMessage
) -> None:
    _entry_id, fields = entry
    message = decode_entry(entry_fields(as_redis(fields)))
    assert message == expected
    assert encode_entry(message) == fields


def test_an_encoded_broadcast_is_spliced_as_node_writes_it() -> None:
    # Our adapter hands over the packet encoded once (the Socket.IO text): its JSON arguments go
    # into the entry as they are, for "/" and for another namespace.
    for (_id, fields), text, nsp in (
        (NODE_ENTRIES[0], '2["plain","hello",1,{"x":null}]', "/"),
        (NODE_ENTRIES[3], '2/other,["elsewhere","x"]', "/other"),
    ):
        data = {"packet": EncodedPacket([text]), "opts": EMPTY_OPTS}
        message = ClusterMessage(fields[1], nsp, MessageType.BROADCAST, data)
        assert encode_entry(message) == fields


def test_an_encoded_binary_broadcast_is_msgpack_as_node_writes_it() -> None:
    packet = Packet(PacketType.EVENT, "/", ["bin", b"\x00\x01\xff", "after"])
    opts = {"rooms": ["room1"], "except": ["room2"], "flags": {}}
    encoded = EncodedPacket(encode_messages(packet))
    assert len(encoded.messages) == 2  # a BINARY_EVENT and its attachment
    message = ClusterMessage(A, "/", MessageType.BROADCAST, {"packet": encoded, "opts": opts})
    assert encode_entry(message) == NODE_ENTRIES[1][1]


def test_a_packet_goes_without_namespace_offset_or_binary_type() -> None:
    packet = Packet(PacketType.BINARY_EVENT, "/chat", ["x", b"\x01"], None, 1)
    data = {"packet": packet, "opts": EMPTY_OPTS, "offset": "1-0"}
    fields = encode_entry(ClusterMessage(A, "/chat", MessageType.BROADCAST, data))
    raw = msgpack.unpackb(base64.b64decode(fields[7]))
    assert raw == {"packet": {"type": 2, "data": ["x", b"\x01"]}, "opts": EMPTY_OPTS}


def test_messages_without_data_have_no_data_field() -> None:
    message = ClusterMessage(A, "/", MessageType.HEARTBEAT)
    assert encode_entry(message) == ["uid", A, "nsp", "/", "type", "2"]
    assert decode_entry(entry_fields(as_redis(encode_entry(message)))) == message


def test_with_offset_appends_the_entry_id_to_recoverable_broadcasts_only() -> None:
    plain = decode_entry(entry_fields(as_redis(NODE_ENTRIES[0][1])))
    offset = "1796122554446-0"
    added = with_offset(plain, offset)
    assert added.data["packet"].data == ["plain", "hello", 1, {"x": None}, offset]
    assert added.data["offset"] == offset
    assert plain.data["packet"].data == ["plain", "hello", 1, {"x": None}]  # not changed
    volatile = decode_entry(entry_fields(as_redis(NODE_ENTRIES[2][1])))
    assert with_offset(volatile, offset) is volatile
    join = decode_entry(entry_fields(as_redis(NODE_ENTRIES[4][1])))
    assert with_offset(join, offset) is join
    with_ack = EXPECTED_PUBLISHED[4]
    assert with_offset(with_ack, offset) is with_ack


def test_missed_packets_of_a_session() -> None:
    entries = [
        (entry_id, decode_entry(entry_fields(as_redis(fields))))
        for entry_id, fields in NODE_ENTRIES
    ]

    def missed(rooms: list[str], nsp: str = "/") -> list[list[str | bytes]]:
        found = [missed_packet(message, entry_id, nsp, rooms) for entry_id, message in entries]
        return [messages for messages in found if messages is not None]

    # Everyone's, and room1's but not room2's (binary); not the volatile one; not "/other"'s.
    assert missed(["sid", "room1"]) == [
        ['2["plain","hello",1,{"x":null},"1796122554446-0"]'],
        ['51-["bin",{"_placeholder":true,"num":0},"after","1796122554446-1"]', b"\x00\x01\xff"],
    ]
    assert missed(["sid", "room1", "room2"]) == [
        ['2["plain","hello",1,{"x":null},"1796122554446-0"]']
    ]
    assert missed(["sid"], "/other") == [['2/other,["elsewhere","x","1796122554446-3"]']]


# -- pub/sub ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("published", "expected"),
    list(zip(NODE_PUBLISHED, EXPECTED_PUBLISHED, strict=True)),
    ids=[message.type.name for message in EXPECTED_PUBLISHED],
)
def test_node_pubsub_payloads_decode_and_encode_back_exactly(
    published: tuple[str, str], expected: ClusterMessage
) -> None:
    channel, payload = published
    raw = base64.b64decode(payload)
    message = decode_ephemeral(raw)
    assert message == expected
    assert encode_ephemeral(message) == raw
    if message.type in (
        MessageType.FETCH_SOCKETS,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.BROADCAST,
    ):
        assert is_ephemeral(message)
        assert channel == request_channel("capture", "/")
    else:
        assert channel == response_channel("capture", "/", A)


def test_node_fetch_response_reads_dates_as_json_does() -> None:
    message = decode_ephemeral(base64.b64decode(NODE_FETCH_RESPONSE))
    assert message.type is MessageType.FETCH_SOCKETS_RESPONSE and message.uid == B
    (socket,) = message.data["sockets"]
    assert socket["data"] == {"name": "B", "since": "2024-01-02T03:04:05.678Z", "n": 1.5}
    assert socket["handshake"]["issued"] == 1796122554058
    assert socket["handshake"]["query"] == {"EIO": "4", "transport": "websocket"}
    assert socket["rooms"] == [socket["id"]]


def test_what_goes_where() -> None:
    def message(kind: MessageType, data: Any) -> ClusterMessage:
        return ClusterMessage(A, "/", kind, data)

    broadcast = {"packet": Packet(PacketType.EVENT, "/", ["x"]), "opts": EMPTY_OPTS}
    assert not is_ephemeral(message(MessageType.BROADCAST, broadcast))
    assert is_ephemeral(message(MessageType.BROADCAST, {**broadcast, "requestId": "r"}))
    assert is_ephemeral(message(MessageType.SERVER_SIDE_EMIT, {"packet": ["x"]}))
    assert is_ephemeral(message(MessageType.FETCH_SOCKETS, {"opts": EMPTY_OPTS}))
    for kind in (MessageType.SOCKETS_JOIN, MessageType.SOCKETS_LEAVE, MessageType.HEARTBEAT):
        assert not is_ephemeral(message(kind, {}))
    assert request_channel("socket.io", "/chat") == "socket.io#/chat#"
    assert response_channel("socket.io", "/chat", A) == f"socket.io#/chat#{A}#"


def test_servers_are_found_by_their_answer_channels() -> None:
    channels = [
        "socket.io#/#",
        f"socket.io#/#{A}#",
        f"socket.io#/#{B}#",
        "socket.io#/admin#",
        "socket.io#/admin#e9b88bab9ba2b652#",
        "socket.io-other#/#f00#",
        "socket.io#/#",
    ]
    assert peers_in(channels, "socket.io", "/") == {A, B}
    assert peers_in(channels, "socket.io", "/admin") == {"e9b88bab9ba2b652"}
    assert peers_in(channels, "socket.io", "/none") == frozenset()
    assert peer_pattern("socket.io") == "socket.io#*"
    assert peer_pattern("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\#*"


def test_offsets() -> None:
    assert is_offset("1796122554446-0") and is_offset("0-0")
    for bad in ("", "1796122554446", "1-2-3", "a-1", "1-", "-1", "1-1\n", " 1-1"):
        assert not is_offset(bad), bad
    assert next_offset("1796122554446-9") == "1796122554446-10"
    assert offset_key("10-2") > offset_key("9-30") > offset_key("9-4")


# -- sessions -----------------------------------------------------------------------------------


def test_node_session_decodes_and_ours_is_the_same() -> None:
    session = decode_session(NODE_SESSION.encode())
    assert session == Session(
        "jEc-aSVzypIr2_Z9AAAB",
        "Nns7anfCrTed7yRHAAAC",
        ["jEc-aSVzypIr2_Z9AAAB", "r1"],
        {"answer": 42, "when": "1970-01-01T00:00:00.000Z", "nothing": None},
    )
    assert encode_session(session) == NODE_SESSION


def test_session_data_that_msgpack_cannot_hold_becomes_text() -> None:
    session = Session("s", "p", ["s"], {"set": {1}})
    assert decode_session(encode_session(session).encode()).data == {"set": "{1}"}


# -- garbage ------------------------------------------------------------------------------------


def fields_with(data: bytes, kind: bytes = b"3") -> dict[str, bytes]:
    return {"uid": b"x", "nsp": b"/", "type": kind, "data": data}


BAD_ENTRIES = [
    {},
    {"uid": b"x", "nsp": b"/"},
    fields_with(b"{}", kind=b"99"),
    fields_with(b"{}", kind=b"three"),
    fields_with(b"{}", kind=b"\xff"),
    {"uid": b"\xff", "nsp": b"/", "type": b"3"},
    fields_with(b"{"),
    fields_with(b'{"packet": NaN}'),
    fields_with(b"{" * 100_000),
    fields_with(b'{"packet":{"type":2,"data":["x",' + b"[" * 300 + b"]" * 300 + b"]}}"),
    fields_with(b"!!not base64!!"),
    fields_with(base64.b64encode(b"\xc1")),  # never used in msgpack
    fields_with(base64.b64encode(b"\x91" * 100_000 + b"\xc0")),
    fields_with(base64.b64encode(b"\xd4\x05\x00")),  # an unknown extension
    fields_with(base64.b64encode(msgpack.packb([1, 2]))),  # a broadcast that is not an object
    fields_with(b"{}"),  # a broadcast without packet
    fields_with(b'{"packet":{"type":9,"data":["x"]}}'),
    fields_with(b'{"packet":{"type":2,"data":[]}}'),
    fields_with(b'{"packet":{"type":2,"data":"x"}}'),
    fields_with(b'{"packet":{"type":2,"data":["x"],"id":-1}}'),
    fields_with(b'{"packet":{"type":true,"data":["x"]}}'),
    fields_with(b'{"packet":[]}'),
]


@pytest.mark.parametrize("fields", BAD_ENTRIES, ids=range(len(BAD_ENTRIES)))
def test_bad_entries_are_format_errors(fields: dict[str, bytes]) -> None:
    with pytest.raises(StreamFormatError):
        decode_entry(fields)


@pytest.mark.parametrize(
    "raw",
    [None, b"", [b"uid"], [b"uid", 1], [b"uid", b"x", b"nsp"], "uid", [[b"a"], [b"b"]]],
)
def test_bad_field_lists_are_format_errors(raw: Any) -> None:
    with pytest.raises(StreamFormatError):
        entry_fields(raw)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",
        msgpack.packb([1]),
        msgpack.packb({"uid": 1, "nsp": "/", "type": 7}),
        msgpack.packb({"uid": "a", "nsp": "/", "type": 99}),
        msgpack.packb({"uid": "a", "nsp": "/", "type": True}),
        msgpack.packb({"uid": "a", "nsp": "/", "type": 3, "data": {"packet": 1}}),
        msgpack.packb({"uid": "a", "nsp": "/"}) + b"\x00",
        b"\x81\x91\x01\x02",  # a list as a map key
    ],
)
def test_bad_pubsub_payloads_are_format_errors(payload: bytes) -> None:
    with pytest.raises(StreamFormatError):
        decode_ephemeral(payload)


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"@@@",
        base64.b64encode(msgpack.packb([1])),
        base64.b64encode(msgpack.packb({"sid": "s", "pid": "p"})),
        base64.b64encode(msgpack.packb({"sid": "s", "pid": "p", "rooms": [1]})),
        base64.b64encode(msgpack.packb({"sid": 1, "pid": "p", "rooms": []})),
    ],
)
def test_bad_sessions_are_format_errors(value: bytes) -> None:
    with pytest.raises(StreamFormatError):
        decode_session(value)


def test_random_garbage_never_crashes() -> None:
    chance = random.Random(7)
    attempts: list[Callable[[bytes], Any]] = [
        lambda junk: decode_entry(fields_with(junk)),
        lambda junk: decode_entry(fields_with(base64.b64encode(junk))),
        lambda junk: decode_entry(fields_with(b"{" + junk)),
        decode_ephemeral,
        lambda junk: decode_session(base64.b64encode(junk)),
    ]
    for _ in range(3000):
        junk = bytes(chance.randrange(256) for _ in range(chance.randrange(0, 64)))
        for attempt in attempts:
            with contextlib.suppress(StreamFormatError):
                attempt(junk)


def test_what_cannot_be_encoded_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    nan = ClusterMessage(A, "/", MessageType.SERVER_SIDE_EMIT, {"packet": ["x", float("nan")]})
    with pytest.raises(StreamFormatError):
        encode_entry(nan)
    broken = EncodedPacket(["not a packet"])
    with pytest.raises(StreamFormatError):
        encode_entry(ClusterMessage(A, "/", MessageType.BROADCAST, {"packet": broken}))
    with pytest.raises(StreamFormatError):
        encode_entry(ClusterMessage(A, "/", MessageType.BROADCAST, {"opts": EMPTY_OPTS}))
    monkeypatch.setattr(fmt, "MAX_DATA", 100)
    big = ClusterMessage(A, "/", MessageType.SERVER_SIDE_EMIT, {"packet": ["x", "y" * 200]})
    with pytest.raises(StreamFormatError):
        encode_entry(big)
    with pytest.raises(StreamFormatError):
        encode_ephemeral(big)
    with pytest.raises(StreamFormatError):
        decode_entry(fields_with(b'{"packet":' + b" " * 200 + b"}"))
    with pytest.raises(StreamFormatError):
        decode_ephemeral(b"\x00" * 200)
