"""Faults of the Redis adapters.

- Hostile input on the Redis channels of the pub/sub adapter: garbage, truncated msgpack,
  oversized, foreign-version and unknown-type messages, and answers nobody asked for, on every
  channel the adapter listens to. Each is logged and dropped; the server stays alive and its
  fleet keeps working (a chat message still crosses, a fetch still gathers both servers).
- Garbage on the streams adapter's stream and channels, then Redis going away under it (a
  ``redis-server`` of the test's own): each server
  keeps delivering to its own clients, counts what it could not publish, and once Redis is back
  the cross-server chat resumes within 5 s, by itself. (The pub/sub adapter's own test of this
  is in ``test_redis_pubsub.py``.)"""

from __future__ import annotations

import json
import logging
import secrets
import time

import msgpack
import pytest

import sio
from cli.chat import install_chat
from cluster.redis.streams import redis_streams_adapter_factory

from .chat.helpers import Loop, NodeClient, ServerHandle, node
from .redis_support import own_redis, redis_up
from .test_redis_pubsub import _redis_command, numsub, start_python_server, wait_until

pytestmark = [
    pytest.mark.node,
    pytest.mark.redis,
    pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379"),
]


def hostile_messages(uid: str) -> list[bytes]:
    """Payloads no server should act on."""
    nested: object = []
    for _ in range(500):
        nested = [nested]
    return [
        b"",
        b"\xc1",  # never used in msgpack
        b"\x93\xa3uid",  # an array of 3 with one element
        secrets.token_bytes(64),
        msgpack.packb(["other-uid", {"type": 2, "data": ["x"], "nsp": "/"}]),  # 2 of 3
        msgpack.packb(["other-uid", {"type": 99, "data": "x", "nsp": "/"}, {}]),
        msgpack.packb(["other-uid", {"type": 2, "data": [], "nsp": "/"}, {"rooms": 5}]),
        msgpack.packb(nested),
        b"\x91" * 100_000,  # arrays nested 100k deep
        msgpack.packb(["other-uid", {"type": 2, "data": ["x" * 2_000_000], "nsp": "/"}, {}]),
        b"{",  # JSON, cut
        b'{"uid":"other","type":42,"requestId":"r"}',  # unknown request type
        b'{"uid":"other","type":5}',  # a fetch without its fields
        b'{"uid":"other","type":7,"requestId":"x","packet":"not a packet"}',
        json.dumps({"uid": uid, "type": 0, "requestId": "not ours", "sockets": 3}).encode(),
        b'{"requestId":"nobody asked","sockets":[{"id":1}]}',
        b"[" * 100_000,
        '{"uid":"\udcff"}'.encode("utf-8", "surrogatepass"),
    ]


def test_garbage_on_every_channel_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    node()
    caplog.set_level(logging.WARNING)
    prefix = f"sio-test-{secrets.token_hex(4)}"
    first = start_python_server(prefix, "py1")
    second = start_python_server(prefix, "py2")
    clients: list[NodeClient] = []
    try:
        channel = f"{prefix}-request#/#"
        wait_until("both servers subscribed", lambda: numsub(channel) == 2)
        uid = first.loop.call(lambda: first.io.of("/").adapter.uid)
        for target in (
            f"{prefix}#/#",
            f"{prefix}#/#some-room#",
            f"{prefix}-request#/#",
            f"{prefix}-response#/#",
            f"{prefix}-response#/#{uid}#",
        ):
            for payload in hostile_messages(uid):
                _redis_command("PUBLISH", target, payload.decode("latin-1"))
        a = NodeClient(first.url, auth={"user": "A"}, transports=["websocket"])
        clients.append(a)
        b = NodeClient(second.url, auth={"user": "B"}, transports=["websocket"])
        clients.append(b)
        a.expect("connect")
        b.expect("connect")
        a.emit("chat message", "A", "still here")
        assert b.expect("event", name="chat message")["args"] == ["still here from A"]
        (answer,) = b.call("fetch", None)
        assert answer["error"] is None
        assert sorted(s["data"]["user"] for s in answer["sockets"]) == ["A", "B"]
        logged = [r.getMessage() for r in caplog.records if r.name.startswith("cluster.redis")]
        assert any("bad" in line for line in logged), logged
        assert not [r for r in caplog.records if r.exc_info], "no traceback"
    finally:
        for client in clients:
            client.close()
        second.stop()
        first.stop()


def start_streams_server(url: str, tag: str) -> ServerHandle:
    loop = Loop()

    def build() -> tuple[sio.Server, str, int]:
        factory = redis_streams_adapter_factory(
            loop.reactor,
            url,
            stream_name=f"sio-test-{tag}",
            channel_prefix=f"sio-test-{tag}",
            session_key_prefix=f"sio-test-{tag}:",
            nodes_interval=0.2,
        )
        io = sio.Server(reactor=loop.reactor, adapter=factory)
        install_chat(io)
        host, port = io.listen("127.0.0.1", 0)
        return io, host, port

    io, host, port = loop.call(build)
    return ServerHandle(io, loop, host, port)


def peers(server: ServerHandle) -> frozenset[str]:
    return server.loop.call(  # type: ignore[no-any-return]
        lambda: server.io.of("/").adapter.transport.nodes  # type: ignore[attr-defined]
    )


def test_streams_adapter_redis_down_then_back() -> None:
    node()
    tag = secrets.token_hex(4)
    clients: list[NodeClient] = []
    with own_redis() as redis:
        first = start_streams_server(redis.url, tag)
        second = start_streams_server(redis.url, tag)
        try:
            wait_until("the two servers to see each other", lambda: peers(first) and peers(second))

            def connect(server: ServerHandle, user: str) -> NodeClient:
                made = NodeClient(server.url, auth={"user": user}, transports=["websocket"])
                clients.append(made)
                made.expect("connect")
                return made

            # Garbage on the stream and on its request and answer channels: dropped.
            uid = first.loop.call(lambda: first.io.of("/").adapter.transport.link.uid)
            for payload in hostile_messages(uid):
                for channel in (f"sio-test-{tag}#/#", f"sio-test-{tag}#/#{uid}#"):
                    _redis_command("PUBLISH", channel, payload.decode("latin-1"), port=redis.port)
            for fields in (("foo", "bar"), ("uid", "x", "nsp", "/", "type", "77", "data", "{}")):
                _redis_command("XADD", f"sio-test-{tag}", "*", *fields, port=redis.port)
            a, a2, b = connect(first, "A"), connect(first, "A2"), connect(second, "B")
            a.emit("chat message", "A", "one")
            for other in (a2, b):
                assert other.expect("event", name="chat message")["args"] == ["one from A"]

            redis.stop()
            a.emit("chat message", "A", "two")  # Redis down: this server's own clients only
            assert a2.expect("event", name="chat message")["args"] == ["two from A"]
            b.assert_no_event("chat message")
            link = first.loop.call(lambda: first.io.of("/").adapter.transport.link)
            assert first.loop.call(lambda: link.client.dropped) >= 1  # counted, visible

            redis.start()
            back = time.monotonic()
            # Resumed once a message crosses; each try is one chat message and its wait.
            while True:
                b.emit("chat message", "B", "three")
                try:
                    got = a.expect("event", name="chat message", timeout=0.5)
                except AssertionError:
                    assert time.monotonic() - back < 5, "not resumed within 5 s"
                    continue
                assert got["args"] == ["three from B"]
                break
        finally:
            for made in clients:
                made.close()
            second.stop()
            first.stop()
