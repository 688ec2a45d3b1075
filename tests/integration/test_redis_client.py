"""The Redis connections on the reactor (``cluster/redis/client.py``) against a real Redis:
pipelined commands answered in order, error replies, subscriptions, and the faults — Redis
killed (commands refused and counted, one log line per state change), then back on the same
port (reconnected and subscribed again by themselves)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from cluster.redis import RedisClient, RedisError, RedisSubscriber, RedisUnavailable
from reactor import Reactor

from .redis_support import MACHINE_REDIS, own_redis, redis_up

WAIT = 5.0

pytestmark = pytest.mark.skipif(not redis_up(), reason="Redis at 127.0.0.1:6379 needed")


class Loop:
    """A reactor on its own thread; ``call`` runs a function on it and returns its result."""

    def __init__(self) -> None:
        self.reactor = Reactor()
        self.thread = threading.Thread(target=self.reactor.run, daemon=True)
        self.thread.start()

    def call(self, fn: Any, *args: Any) -> Any:
        done = threading.Event()
        box: list[Any] = []

        def run() -> None:
            box.append(fn(*args))
            done.set()

        self.reactor.call_from_thread(run)
        assert done.wait(WAIT)
        return box[0]

    def stop(self) -> None:
        self.reactor.call_from_thread(self.reactor.stop)
        self.thread.join(WAIT)


class Inbox:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.changed = threading.Condition()

    def put(self, item: Any) -> None:
        with self.changed:
            self.items.append(item)
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Any]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.items) >= count, timeout), self.items
            return list(self.items)


@pytest.fixture
def loop() -> Iterator[Loop]:
    running = Loop()
    yield running
    running.stop()


def wait_connected(loop: Loop, conn: Any) -> None:
    ready = threading.Event()

    def check() -> None:
        if conn.connected:
            ready.set()
        else:
            loop.reactor.call_later(0.01, check)

    loop.call(check)
    assert ready.wait(WAIT), "not connected"


def test_commands_are_pipelined_and_answered_in_order(loop: Loop) -> None:
    client = loop.call(RedisClient, loop.reactor, MACHINE_REDIS)
    wait_connected(loop, client)
    replies = Inbox()
    key = "sio-test-client-key"

    def send_all() -> None:  # one tick: they leave in one write, replies come in order
        client.command("DEL", key, callback=replies.put)
        for value in range(5):
            client.command("RPUSH", key, value, callback=replies.put)
        client.command("LRANGE", key, 0, -1, callback=replies.put)
        client.command("NOSUCHCOMMAND", callback=replies.put)
        client.command("GET", "sio-test-no-such-key", callback=replies.put)
        client.command("DEL", key, callback=replies.put)

    loop.call(send_all)
    got = replies.wait_for(10)
    assert got[1:6] == [1, 2, 3, 4, 5]
    assert got[6] == [b"0", b"1", b"2", b"3", b"4"]
    assert isinstance(got[7], RedisError)
    assert got[8] is None
    assert got[9] == 1
    loop.call(client.close)


def test_subscriber_gets_channel_and_pattern_messages(loop: Loop) -> None:
    messages = Inbox()
    subscribed = threading.Event()
    sub = loop.call(
        lambda: RedisSubscriber(
            loop.reactor,
            MACHINE_REDIS,
            lambda channel, data, pattern: messages.put((channel, data, pattern)),
            on_subscribed=subscribed.set,
        )
    )
    loop.call(sub.subscribe, "sio-test-chan")
    loop.call(sub.psubscribe, "sio-test-pat#*")
    assert subscribed.wait(WAIT)
    client = loop.call(RedisClient, loop.reactor, MACHINE_REDIS)
    wait_connected(loop, client)
    counts = Inbox()

    def publish_until_heard() -> None:
        # The subscriptions are in once a PUBLISH reaches a subscriber (count 1).
        def answered(count: Any) -> None:
            if count == 1:
                counts.put(count)
            else:
                loop.reactor.call_later(0.01, publish_until_heard)

        client.command("PUBLISH", "sio-test-pat#probe", b"probe", callback=answered)

    loop.call(publish_until_heard)
    counts.wait_for(1)
    loop.call(lambda: client.command("PUBLISH", "sio-test-chan", b"\x00binary\xff"))
    got = messages.wait_for(2)
    assert (b"sio-test-pat#probe", b"probe", b"sio-test-pat#*") in got
    assert (b"sio-test-chan", b"\x00binary\xff", None) in got
    loop.call(sub.close)
    loop.call(client.close)


def test_redis_down_then_back(loop: Loop, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cluster.redis.client")
    with own_redis() as server:
        client = loop.call(RedisClient, loop.reactor, server.url)
        messages = Inbox()
        subscribed = Inbox()
        sub = loop.call(
            lambda: RedisSubscriber(
                loop.reactor,
                server.url,
                lambda channel, data, pattern: messages.put(data),
                on_subscribed=lambda: subscribed.put(True),
            )
        )
        loop.call(sub.subscribe, "sio-test-fault")
        subscribed.wait_for(1)
        wait_connected(loop, client)

        server.stop()
        refused = Inbox()

        def try_while_down() -> None:
            if client.connected:
                loop.reactor.call_later(0.01, try_while_down)
                return
            for _ in range(100):
                client.command("PING", callback=refused.put)

        loop.call(try_while_down)
        got = refused.wait_for(100)
        assert all(isinstance(reply, RedisUnavailable) for reply in got)
        assert loop.call(lambda: client.dropped) >= 100
        down_lines = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert 1 <= len(down_lines) <= 2  # once per connection, not per command or retry

        server.start()  # the same port
        subscribed.wait_for(2)  # the subscriber is back and subscribed again
        wait_connected(loop, client)
        heard = Inbox()

        def publish_until_heard() -> None:
            def answered(count: Any) -> None:
                if count == 1:
                    heard.put(count)
                else:
                    loop.reactor.call_later(0.01, publish_until_heard)

            client.command("PUBLISH", "sio-test-fault", b"again", callback=answered)

        loop.call(publish_until_heard)
        heard.wait_for(1)
        assert messages.wait_for(1)[-1] == b"again"
        up_lines = [r for r in caplog.records if "connected to Redis" in r.getMessage()]
        assert len(up_lines) == 2
        loop.call(client.close)
        loop.call(sub.close)
