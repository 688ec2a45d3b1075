"""The msgpack parser against ``socket.io-msgpack-parser`` 3.0.2 and the official Node packages:

- the npm codec and ours, byte for byte both ways (``tests/node/msgpack_codec.js``);
- official ``socket.io-client`` clients with the parser chatting through ``sio-chat server
  --parser msgpack`` (websocket, polling, upgrade): chat both ways, an ack, binary;
- our client (the library, and ``sio-chat client --parser msgpack``) with the official
  ``socket.io`` server using the parser (``tests/node/sio_server.js``);
- the fork cluster (``--workers 2 --parser msgpack``): a broadcast crosses workers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from protocol.test_msgpack_parser import ENCODED

from sio.protocol import Packet
from sio.protocol.msgpack_parser import decode_msgpack, encode_msgpack

from .chat.helpers import (
    NODE_DIR,
    SIO_CHAT,
    NodeClient,
    Process,
    ServerProcess,
    b64,
    chat_server_process,
    node,
    node_server,
    recovery_args,
    running,
    strip_offset,
)
from .cluster_support import ClientLoop, source_addresses, start_cli_cluster, worker_of

MODES = {
    "upgrade": ["polling", "websocket"],
    "websocket": ["websocket"],
    "polling": ["polling"],
}


def tagged(value: Any) -> Any:
    """A value as ``msgpack_codec.js`` carries it in JSON (binary as ``{"$bin": base64}``)."""
    if isinstance(value, bytes):
        return {"$bin": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [tagged(item) for item in value]
    if isinstance(value, dict):
        return {key: tagged(item) for key, item in value.items()}
    return value


def js_packet(packet: Packet) -> dict[str, Any]:
    """The JavaScript packet object the npm encoder is given: ``{type, data, nsp, id}``."""
    out: dict[str, Any] = {"type": int(packet.type)}
    if packet.data is not None:
        out["data"] = tagged(packet.data)
    out["nsp"] = packet.namespace
    if packet.id is not None:
        out["id"] = packet.id
    return out


class NpmCodec:
    """``msgpack_codec.js``: one JSON request a line, one answer a line."""

    def __init__(self) -> None:
        self.proc = Process([node(), str(NODE_DIR / "msgpack_codec.js")])

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self.proc.write(json.dumps(request))
        answer: dict[str, Any] = json.loads(self.proc.expect_line(lambda line: True))
        return answer

    def stop(self) -> None:
        self.proc.stop()


@pytest.fixture(scope="module")
def npm() -> Iterator[NpmCodec]:
    codec = NpmCodec()
    yield codec
    codec.stop()


@pytest.mark.node
@pytest.mark.parametrize("name", ENCODED)
def test_npm_encoder_and_ours_write_the_same_bytes(npm: NpmCodec, name: str) -> None:
    packet, _ = ENCODED[name]
    (ours,) = encode_msgpack(packet)
    assert npm.ask({"encode": js_packet(packet)}) == {"hex": ours.hex()}
    # ... and the npm decoder reads ours as the packet
    assert npm.ask({"decode": ours.hex()}) == {"packet": js_packet(packet)}


#: JavaScript values we never write (undefined members, ArrayBuffers, the client's options):
#: the npm encoder's bytes of them, read by our decoder.
FROM_NODE: list[tuple[dict[str, Any], Packet]] = [
    (
        {"type": 2, "data": ["x", {"$ab": "AQI="}], "options": {"compress": True}, "nsp": "/"},
        Packet(2, "/", ["x", b"\x01\x02"]),  # type: ignore[arg-type]
    ),
    ({"type": 0, "data": {"$undefined": True}, "nsp": "/a"}, Packet(0, "/a")),  # type: ignore[arg-type]
    (
        {"type": 3, "data": [{"$undefined": True}, {"k": {"$undefined": True}}], "nsp": "/"}
        | {"id": 9},
        Packet(3, "/", [None, {}], 9),  # type: ignore[arg-type]
    ),
    (
        {
            "type": 2,
            "data": ["n", 1.5, 2**53, -(2**31), 0.1],
            "nsp": "/",
            "id": {"$undefined": True},
        },
        Packet(2, "/", ["n", 1.5, 2**53, -(2**31), 0.1]),  # type: ignore[arg-type]
    ),
]


@pytest.mark.node
@pytest.mark.parametrize("index", range(len(FROM_NODE)))
def test_our_decoder_reads_what_the_npm_encoder_writes(npm: NpmCodec, index: int) -> None:
    value, packet = FROM_NODE[index]
    encoded = bytes.fromhex(npm.ask({"encode": value})["hex"])
    assert decode_msgpack(encoded) == packet


# -- official clients with the parser, our server -------------------------------------------------


@pytest.fixture(scope="module")
def msgpack_server() -> Iterator[ServerProcess]:
    """``sio-chat server --parser msgpack`` with connection state recovery (its default)."""
    server = chat_server_process(0, "--parser", "msgpack", *recovery_args(True))
    yield server
    server.stop()


@pytest.mark.node
@pytest.mark.parametrize("mode", MODES)
def test_node_clients_with_the_msgpack_parser_chat(
    mode: str, msgpack_server: ServerProcess
) -> None:
    options = {"transports": MODES[mode], "parser": "msgpack"}
    a = NodeClient(msgpack_server.url, auth={"user": "A"}, **options)
    b = NodeClient(msgpack_server.url, auth={"user": "B"}, **options)
    with running(a, b):
        a.expect("connect")
        b.expect("connect")
        if mode == "upgrade":
            assert a.expect("upgrade")["transport"] == "websocket"
        a.emit("chat message", "A", "hello")
        assert strip_offset(b.expect("event", name="chat message")["args"], True) == [
            "hello from A"
        ]
        b.emit("chat message", "B", "hi")
        assert strip_offset(a.expect("event", name="chat message")["args"], True) == ["hi from B"]
        assert a.call("echo", "ping", 1, {"k": [True, None]}) == ["ping", 1, {"k": [True, None]}]
        blob = bytes(range(256))
        assert b.call("echo", b64(blob), {"nested": b64(b"\x00\xff")}) == [
            b64(blob),
            {"nested": b64(b"\x00\xff")},
        ]
        assert sorted(a.call("who")[0]) == ["A", "B"]


# -- our client with the parser, the official server ----------------------------------------------


@pytest.fixture(scope="module")
def node_msgpack_server() -> Iterator[ServerProcess]:
    server = node_server("sio_server.js", {"parser": "msgpack", "pingInterval": 5000})
    yield server
    server.stop()


@pytest.fixture
def client_loop() -> Iterator[ClientLoop]:
    loop = ClientLoop()
    yield loop
    loop.close()


@pytest.mark.node
@pytest.mark.parametrize("mode", MODES)
def test_our_client_with_the_msgpack_parser_chats_with_node(
    mode: str, node_msgpack_server: ServerProcess, client_loop: ClientLoop
) -> None:
    url = node_msgpack_server.url
    options: dict[str, Any] = {"transports": MODES[mode], "parser": "msgpack"}
    a = client_loop.connect(url, "127.0.0.1", **options)
    b = client_loop.connect(url, "127.0.0.1", **options)
    a.wait_connected()
    b.wait_connected()
    a.emit("chat message", "A", "hello")
    assert b.inbox.wait_count("chat message", 1) == [("hello from A",)]
    b.emit("chat message", "B", "hi")
    assert a.inbox.wait_count("chat message", 1) == [("hi from B",)]
    # an ack with binary, both ways through the npm parser
    assert a.call("echo", b"\x00\x01\xff", {"n": [b"x", None, 1.5]}, "t") == (
        b"\x00\x01\xff",
        {"n": [b"x", None, 1.5]},
        "t",
    )
    # a namespace whose middleware refuses: CONNECT_ERROR with data
    refused = client_loop.connect(url + "/admin", "127.0.0.1", auth={"token": "no"}, **options)
    (error,) = refused.inbox.wait_count("connect_error", 1)[0]
    assert str(error) == "not authorized" and error.data == {"reason": "bad token"}
    admitted = client_loop.connect(url + "/admin", "127.0.0.1", auth={"token": "secret"}, **options)
    admitted.wait_connected()
    (who,) = admitted.call("whoami")
    assert who["nsp"] == "/admin" and who["auth"] == {"token": "secret"}


@pytest.mark.node
def test_the_cli_client_with_the_msgpack_parser_chats_with_node(
    node_msgpack_server: ServerProcess,
) -> None:
    url = node_msgpack_server.url

    def chat_client(user: str, *extra: str) -> Process:
        args = [SIO_CHAT, "client", "--user", user, "--url", url, "--parser", "msgpack"]
        return Process([*args, *extra])

    b = chat_client("UserB")
    with running(b.stop):
        b.expect_err("connected to")
        a = chat_client("UserA", "--transports", "websocket")
        with running(a.stop):
            a.expect_err("connected to")
            a.write("hello")
            assert b.expect_line("hello from UserA") == "hello from UserA"
            b.write("hi")
            assert a.expect_line("hi from UserB") == "hi from UserB"
            a.close_stdin()
            assert a.wait() == 0
        b.write("/quit")
        assert b.wait() == 0


# -- the fork cluster -----------------------------------------------------------------------------


def test_fork_cluster_with_the_msgpack_parser_broadcasts_across_workers(
    client_loop: ClientLoop,
) -> None:
    cluster = start_cli_cluster(2, "--parser", "msgpack", *recovery_args(True))
    try:
        homes = source_addresses(2, 1)
        clients = {}
        for worker, (ip,) in homes.items():
            assert worker_of(cluster, ip) == worker
            clients[worker] = client_loop.connect(
                cluster.url, ip, auth={"user": f"U{worker}"}, parser="msgpack"
            )
            clients[worker].wait_connected()
        one, two = clients[1], clients[2]
        one.emit("chat message", "U1", "from one")
        (args,) = two.inbox.wait_count("chat message", 1)
        assert strip_offset(args, True) == ["from one from U1"]
        two.emit("chat message", "U2", "from two")
        (args,) = one.inbox.wait_count("chat message", 1)
        assert strip_offset(args, True) == ["from two from U2"]
        # a request answered by every worker (fetch_sockets)
        assert sorted(one.call("who")[0]) == ["U1", "U2"]
    finally:
        cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())
