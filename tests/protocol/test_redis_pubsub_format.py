"""``cluster/redis/pubsub_format.py`` against what Node's ``@socket.io/redis-adapter`` 8.3.0
published (two Node servers on one Redis, their PUBLISH commands seen by ``redis-cli MONITOR``;
the payloads pasted here as they went)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("msgpack")

from cluster.redis.pubsub_format import (
    MISSING,
    Channels,
    FormatError,
    Opts,
    RequestType,
    all_rooms_request,
    all_rooms_response,
    broadcast_ack_response,
    broadcast_request,
    client_count_response,
    decode_broadcast,
    decode_request,
    decode_response,
    done_response,
    encode_broadcast,
    fetch_response,
    remote_disconnect_request,
    remote_fetch_request,
    remote_join_request,
    remote_leave_request,
    server_side_emit_request,
    server_side_emit_response,
    sockets_request,
    sockets_response,
)

# -- captured from Node (prefix "cap2", namespace "/", server uid "GDByol") ------------------------

#: socket.broadcast.emit("chat message", "hi from UserA"): to "cap2#/#".
NODE_BROADCAST = (
    b"\x93\xa6GDByol\x83\xa4type\x02\xa4data\x92\xacchat message\xadhi from UserA\xa3nsp\xa1/"
    b"\x83\xa5rooms\x90\xa6except\x91\xb4-m-NfpANmqWVbFNaAAAB\xa5flags\x80"
)
#: io.to("r1").emit("room message", "x", Buffer.from([0, 255])): to "cap2#/#r1#".
NODE_ROOM_BROADCAST = (
    b"\x93\xa6GDByol\x83\xa4type\x02\xa4data\x93\xacroom message\xa1x\xc4\x02\x00\xff\xa3nsp"
    b"\xa1/\x83\xa5rooms\x91\xa2r1\xa6except\x90\xa5flags\x80"
)
NODE_FETCH = b'{"uid":"GDByol","requestId":"Un74Xl","type":5,"opts":{"rooms":["r1"],"except":[]}}'
NODE_FETCH_EMPTY_RESPONSE = b'{"requestId":"8Y2pQY","sockets":[]}'
NODE_JOIN = b'{"uid":"GDByol","type":2,"opts":{"rooms":["r1"],"except":[]},"rooms":["r2"]}'
NODE_LEAVE = b'{"uid":"GDByol","type":3,"opts":{"rooms":["r1"],"except":[]},"rooms":["r2"]}'
NODE_DISCONNECT = b'{"uid":"GDByol","type":4,"opts":{"rooms":["nobody"],"except":[]},"close":false}'
NODE_SERVER_EMIT_ACK = b'{"uid":"GDByol","requestId":"qjQ3pB","type":6,"data":["ping-server","a1"]}'
NODE_SERVER_EMIT_RESPONSE = b'{"type":6,"requestId":"qjQ3pB","data":"pong from n2: a1"}'
NODE_SERVER_EMIT = b'{"uid":"GDByol","type":6,"data":["note","n1",{"type":"Buffer","data":[1]}]}'
#: io.timeout(1000).emit("question", "q1", callback): a BROADCAST request, notepack.
NODE_BROADCAST_ACK_REQUEST = (
    b"\x85\xa3uid\xa6GDByol\xa9requestId\xa6dnE9_l\xa4type\x07\xa6packet\x83\xa4type\x02\xa4data"
    b"\x92\xa8question\xa2q1\xa3nsp\xa1/\xa4opts\x83\xa5rooms\x90\xa6except\x90\xa5flags\x81"
    b"\xa7timeout\xcd\x03\xe8"
)
NODE_CLIENT_COUNT = b'{"type":8,"requestId":"dnE9_l","clientCount":0}'
NODE_ALL_ROOMS = b'{"uid":"GDByol","requestId":"I4Bzex","type":1}'
NODE_ALL_ROOMS_RESPONSE = b'{"requestId":"I4Bzex","rooms":[]}'
#: A client's acknowledgement {answer: "q1", bin: Buffer.from([7])}: notepack.
NODE_BROADCAST_ACK = (
    b"\x83\xa4type\t\xa9requestId\xa6Hpqf83\xa6packet\x82\xa6answer\xa2q1\xa3bin\xc4\x01\x07"
)
NODE_FETCH_RESPONSE = (
    b'{"requestId":"4cuM1W","sockets":[{"id":"ISlr3LRhMxDxEloKAAAB","handshake":{"headers":'
    b'{"sec-websocket-version":"13","sec-websocket-key":"gK2rvpWSDghM3Fl/K8Dhzw==","connection":'
    b'"Upgrade","upgrade":"websocket","sec-websocket-extensions":"permessage-deflate; '
    b'client_max_window_bits","host":"127.0.0.1:42881"},"time":"Tue Dec 01 2026 10:50:11 GMT+0000'
    b' (Coordinated Universal Time)","address":"127.0.0.1","xdomain":false,"secure":false,'
    b'"issued":1796122211210,"url":"/socket.io/?q=1&EIO=4&transport=websocket","query":{"q":"1",'
    b'"EIO":"4","transport":"websocket"},"auth":{"user":"UserB"}},"rooms":["ISlr3LRhMxDxEloKAAAB"],'
    b'"data":{"user":"UserB","server":"n2"}}]}'
)


def test_channels_as_node_names_them() -> None:
    channels = Channels.of("cap2", "/")
    assert channels.broadcast == "cap2#/#"
    assert channels.request == "cap2-request#/#"
    assert channels.response == "cap2-response#/#"
    assert channels.specific_response("GDByol") == "cap2-response#/#GDByol#"
    assert channels.pattern == "cap2#/#*"
    assert channels.for_rooms(frozenset()) == "cap2#/#"
    assert channels.for_rooms(frozenset({"r1"})) == "cap2#/#r1#"
    assert channels.for_rooms(frozenset({"r1", "r2"})) == "cap2#/#"
    assert channels.room_of(b"cap2#/#") == ""
    assert channels.room_of(b"cap2#/#r1#") == "r1"
    assert channels.room_of("cap2#/#a#b#") == "a#b"
    assert channels.room_of(b"cap2#/other#") is None
    # Glob characters in a prefix or namespace are matched literally by the pattern.
    assert Channels.of("k[1]", "/a*b?").pattern == "k\\[1\\]#/a\\*b\\?#*"
    assert Channels.of("socket.io", "/").pattern == "socket.io#/#*"


# -- broadcasts ------------------------------------------------------------------------------------


def test_broadcast_encoded_as_node() -> None:
    opts = {"rooms": [], "except": ["-m-NfpANmqWVbFNaAAAB"], "flags": {}}
    assert encode_broadcast("GDByol", "/", ["chat message", "hi from UserA"], opts) == (
        NODE_BROADCAST
    )
    opts = {"rooms": ["r1"], "except": [], "flags": {}}
    data = ["room message", "x", b"\x00\xff"]
    assert encode_broadcast("GDByol", "/", data, opts) == NODE_ROOM_BROADCAST


def test_broadcast_decoded() -> None:
    message = decode_broadcast(NODE_BROADCAST)
    assert message.uid == "GDByol"
    assert message.nsp == "/"
    assert message.data == ["chat message", "hi from UserA"]
    assert message.opts == Opts((), ("-m-NfpANmqWVbFNaAAAB",), {})
    message = decode_broadcast(NODE_ROOM_BROADCAST)
    assert message.data == ["room message", "x", b"\x00\xff"]
    assert message.opts.rooms == ("r1",)


def test_broadcast_flags() -> None:
    opts = {"rooms": [], "except": [], "flags": {"volatile": True, "timeout": 2500}}
    message = decode_broadcast(encode_broadcast("u", "/chat", ["e"], opts))
    assert message.nsp == "/chat"
    assert message.opts.volatile is True
    assert message.opts.timeout == 2.5
    assert Opts().timeout is None and Opts().volatile is False


def test_broadcast_leniency_as_node() -> None:
    from sio.protocol.notepack import pack

    # No nsp: "/" (Node does the same); rooms as numbers: their names.
    raw = pack(["u", {"type": 2, "data": ["e"]}, {"rooms": [1, 2.5], "except": None}])
    message = decode_broadcast(raw)
    assert message.nsp == "/"
    assert message.opts.rooms == ("1", "2.5")
    assert message.opts.except_rooms == ()


@pytest.mark.parametrize(
    "value",
    [
        {"not": "a list"},
        ["u", {"type": 2, "data": ["e"]}],  # no opts
        ["u", "packet", {}],
        ["u", {"type": 3, "data": ["e"]}, {}],  # an ACK
        ["u", {"type": 2, "data": []}, {}],
        ["u", {"type": 2, "data": "e"}, {}],
        ["u", {"type": 2, "data": ["e"], "nsp": 5}, {}],
        ["u", {"type": 2, "data": ["e"]}, {"rooms": "r1"}],
        ["u", {"type": 2, "data": ["e"]}, {"rooms": [{"a": 1}]}],
        ["u", {"type": 2, "data": ["e"]}, {"flags": []}],
        ["u", {"type": 2, "data": ["e"]}, []],
    ],
)
def test_foreign_broadcasts_are_format_errors(value: Any) -> None:
    from sio.protocol.notepack import pack

    with pytest.raises(FormatError):
        decode_broadcast(pack(value))


def test_garbage_broadcasts_are_format_errors() -> None:
    for payload in (b"", b"\xc1", b"{}", NODE_BROADCAST[:-1], NODE_BROADCAST + b"\x00"):
        with pytest.raises(FormatError):
            decode_broadcast(payload)
    # What another adapter (Node's ClusterAdapter message format) publishes on such a channel.
    foreign = (
        b"\x84\xa4type\t\xa4data\x81\xa6packet\x92\xa4ping\x02\xa3uid\xb06976449edeac718f"
        b"\xa3nsp\xa1/"
    )
    with pytest.raises(FormatError):
        decode_broadcast(foreign)


# -- requests --------------------------------------------------------------------------------------

ROOMS_R1 = {"rooms": ["r1"], "except": [], "flags": {"timeout": 5000}}


def test_requests_encoded_as_node() -> None:
    assert remote_fetch_request("GDByol", "Un74Xl", ROOMS_R1) == NODE_FETCH
    assert remote_join_request("GDByol", ROOMS_R1, ["r2"]) == NODE_JOIN
    assert remote_leave_request("GDByol", ROOMS_R1, ["r2"]) == NODE_LEAVE
    nobody = {"rooms": ["nobody"], "except": [], "flags": {}}
    assert remote_disconnect_request("GDByol", nobody, False) == NODE_DISCONNECT
    args: list[Any] = ["ping-server", "a1"]
    assert server_side_emit_request("GDByol", args, "qjQ3pB") == NODE_SERVER_EMIT_ACK
    args = ["note", "n1", b"\x01"]  # binary as Node's Buffer.toJSON
    assert server_side_emit_request("GDByol", args) == NODE_SERVER_EMIT
    no_rooms = {"rooms": [], "except": [], "flags": {"timeout": 1000}}
    request = broadcast_request("GDByol", "dnE9_l", "/", ["question", "q1"], no_rooms)
    assert request == NODE_BROADCAST_ACK_REQUEST
    assert all_rooms_request("GDByol", "I4Bzex") == NODE_ALL_ROOMS
    assert json.loads(sockets_request("u", "r", ["a"])) == {
        "uid": "u",
        "requestId": "r",
        "type": 0,
        "rooms": ["a"],
    }


def test_requests_decoded() -> None:
    request = decode_request(NODE_FETCH)
    assert request.type is RequestType.REMOTE_FETCH
    assert (request.uid, request.request_id) == ("GDByol", "Un74Xl")
    assert request.opts == Opts(("r1",), (), None)

    request = decode_request(NODE_JOIN)
    assert request.type is RequestType.REMOTE_JOIN
    assert request.request_id is None
    assert request.rooms == ("r2",)
    assert request.opts is not None and request.opts.rooms == ("r1",)
    assert decode_request(NODE_LEAVE).type is RequestType.REMOTE_LEAVE

    request = decode_request(NODE_DISCONNECT)
    assert request.type is RequestType.REMOTE_DISCONNECT
    assert request.close is False
    assert request.opts == Opts(("nobody",), (), None)

    request = decode_request(NODE_SERVER_EMIT_ACK)
    assert request.type is RequestType.SERVER_SIDE_EMIT
    assert request.request_id == "qjQ3pB"
    assert request.data == ["ping-server", "a1"]
    request = decode_request(NODE_SERVER_EMIT)
    assert request.request_id is None
    assert request.data == ["note", "n1", {"type": "Buffer", "data": [1]}]

    request = decode_request(NODE_BROADCAST_ACK_REQUEST)
    assert request.type is RequestType.BROADCAST
    assert request.request_id == "dnE9_l"
    assert request.data == ["question", "q1"]
    assert request.nsp == "/"
    assert request.opts is not None and request.opts.timeout == 1.0

    request = decode_request(NODE_ALL_ROOMS)
    assert request.type is RequestType.ALL_ROOMS
    assert request.request_id == "I4Bzex"
    request = decode_request(sockets_request("u", "r", ["a", "b"]))
    assert request.type is RequestType.SOCKETS
    assert request.rooms == ("a", "b")


def test_older_single_socket_requests() -> None:
    join = b'{"uid":"u","requestId":"r","type":2,"sid":"abc","room":"r1"}'
    request = decode_request(join)
    assert (request.sid, request.room, request.request_id, request.opts) == (
        "abc",
        "r1",
        "r",
        None,
    )
    request = decode_request(b'{"uid":"u","requestId":"r","type":4,"sid":"abc","close":true}')
    assert (request.sid, request.close) == ("abc", True)
    with pytest.raises(FormatError):
        decode_request(b'{"uid":"u","requestId":"r","type":2,"room":"r1"}')  # no sid


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"{",
        b'{"type":5}',  # no requestId
        b'{"type":5,"requestId":"r"}',  # no opts
        b'{"type":5,"requestId":"r","opts":[]}',
        b'{"type":5,"requestId":true,"opts":{}}',
        b'{"type":42,"requestId":"r"}',
        b'{"type":"5","requestId":"r"}',
        b'{"requestId":"r"}',
        b'{"type":8,"requestId":"r","clientCount":1}',  # a response on the request channel
        b'{"type":6,"data":[]}',
        b'{"type":6,"data":"e"}',
        b'{"type":2,"opts":{"rooms":"x"},"rooms":[]}',
        b'{"type":1,"requestId":"r","x":NaN}',
        b"[1,2]",
        b'"text"',
        b"\x93\x01\x02\x03",  # notepack, not an object
        b"\xc1",
        b"{" + b'"a":[' * 5000 + b"]" * 5000 + b"}",  # JSON nested beyond reason
        b'{"type":1,"requestId":"r","a":' + b"[" * 200 + b"]" * 200 + b"}",
    ],
)
def test_bad_requests_are_format_errors(payload: bytes) -> None:
    with pytest.raises(FormatError):
        decode_request(payload)


# -- responses -------------------------------------------------------------------------------------


def test_responses_encoded_as_node() -> None:
    assert sockets_response("8Y2pQY", []) == b'{"requestId":"8Y2pQY","sockets":[]}'
    assert fetch_response("8Y2pQY", []) == NODE_FETCH_EMPTY_RESPONSE
    fetched = json.loads(NODE_FETCH_RESPONSE)
    assert fetch_response("4cuM1W", fetched["sockets"]) == NODE_FETCH_RESPONSE
    answer = server_side_emit_response("qjQ3pB", "pong from n2: a1")
    assert answer == NODE_SERVER_EMIT_RESPONSE
    assert server_side_emit_response("r", MISSING) == b'{"type":6,"requestId":"r"}'  # undefined
    assert server_side_emit_response("r", None) == b'{"type":6,"requestId":"r","data":null}'
    assert client_count_response("dnE9_l", 0) == NODE_CLIENT_COUNT
    assert all_rooms_response("I4Bzex", []) == NODE_ALL_ROOMS_RESPONSE
    ack = broadcast_ack_response("Hpqf83", {"answer": "q1", "bin": b"\x07"})
    assert ack == NODE_BROADCAST_ACK
    assert done_response("r") == b'{"requestId":"r"}'


def test_responses_decoded() -> None:
    response = decode_response(NODE_FETCH_RESPONSE)
    assert response.request_id == "4cuM1W"
    assert response.type is None
    assert response.sockets is not None
    (socket,) = response.sockets
    assert socket["id"] == "ISlr3LRhMxDxEloKAAAB"
    assert socket["data"] == {"user": "UserB", "server": "n2"}
    assert socket["handshake"]["query"]["q"] == "1"

    response = decode_response(NODE_SERVER_EMIT_RESPONSE)
    assert response.type is RequestType.SERVER_SIDE_EMIT
    assert response.data == "pong from n2: a1"

    response = decode_response(NODE_CLIENT_COUNT)
    assert response.type is RequestType.BROADCAST_CLIENT_COUNT
    assert response.client_count == 0

    response = decode_response(NODE_BROADCAST_ACK)
    assert response.type is RequestType.BROADCAST_ACK
    assert response.packet == {"answer": "q1", "bin": b"\x07"}

    response = decode_response(NODE_ALL_ROOMS_RESPONSE)
    assert response.rooms == []


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"{}",  # no requestId
        b'{"requestId":null}',
        b'{"requestId":"r","sockets":{}}',
        b'{"requestId":"r","rooms":"a"}',
        b'{"requestId":"r","type":8,"clientCount":-1}',
        b'{"requestId":"r","type":8,"clientCount":"1"}',
        b'{"requestId":"r","type":99}',
        b"\x83\xa4type\t\xa9requestId",  # truncated notepack
    ],
)
def test_bad_responses_are_format_errors(payload: bytes) -> None:
    with pytest.raises(FormatError):
        decode_response(payload)


def test_json_as_json_stringify() -> None:
    # Non-ASCII as is; a lone surrogate escaped (JSON.stringify's well-formed output).
    assert server_side_emit_request("u", ["é"]) == '{"uid":"u","type":6,"data":["é"]}'.encode()
    assert server_side_emit_request("u", ["\ud800"]) == b'{"uid":"u","type":6,"data":["\\ud800"]}'
    with pytest.raises(TypeError):
        server_side_emit_request("u", [{1, 2}])


# -- the adapter's reconciliation of server counts (broadcasts with acks) --------------------------


def _ack_request(slots: int) -> tuple[Any, list[int]]:
    from cluster.redis.pubsub import _AckRequest

    counts: list[int] = []
    return _AckRequest(counts.append, lambda _: None, slots), counts


def test_client_counts_as_many_as_expected() -> None:
    """The operator expects ``slots`` other servers (``server_count() - 1``, as last counted);
    Redis says how many got the request (this one included: its own request comes back). The
    counts reported add up to what the servers said, in exactly ``slots`` calls, once all
    answered."""
    entry, counts = _ack_request(slots=1)  # as expected: one other server
    entry.published(2)
    entry.count(3)
    assert counts == []  # this server's own request is not back yet
    entry.echo()
    assert counts == [3]

    entry, counts = _ack_request(slots=3)  # fewer servers than expected: zeros fill in
    entry.count(2)
    entry.echo()
    entry.published(2)
    assert counts == [2, 0, 0]

    entry, counts = _ack_request(slots=2)  # more servers than expected: the last slot sums
    entry.published(4)
    entry.count(1)
    entry.count(2)
    entry.echo()
    assert counts == [1]
    entry.count(4)
    assert counts == [1, 6]
    entry.count(5)  # a straggler beyond the count: nothing more
    assert counts == [1, 6]

    entry, counts = _ack_request(slots=2)  # Redis down: nothing will come
    entry.published(0)
    assert counts == [0, 0]

    entry, counts = _ack_request(slots=0)  # expected alone: nothing to report
    entry.published(1)
    entry.echo()
    assert counts == []
