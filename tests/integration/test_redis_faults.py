"""Hostile input on the Redis channels of the pub/sub adapter: garbage, truncated msgpack,
oversized, foreign-version and unknown-type messages, and answers nobody asked for, on every
channel the adapter listens to. Each is logged and dropped; the server stays alive and its fleet
keeps working (a chat message still crosses, a fetch still gathers both servers)."""

from __future__ import annotations

import json
import logging
import secrets

import msgpack
import pytest

from .chat.helpers import NodeClient, node
from .redis_support import redis_up
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
