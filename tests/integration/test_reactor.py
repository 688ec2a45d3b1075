"""The reactor on its own: callbacks, timers, wake-ups from other threads, dirty flushing."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from reactor import Alarmed, Reactor

WAIT = 5.0


class LoopThread:
    def __init__(self) -> None:
        self.reactor = Reactor()
        self.thread = threading.Thread(target=self.reactor.run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.reactor.stop()
        self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive(), "the reactor thread did not stop"
        self.reactor.close()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    if loop.thread.is_alive():
        loop.stop()
    loop.reactor.close()  # idempotent


def get(q: queue.Queue[object], timeout: float = WAIT) -> object:
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"nothing within {timeout}s") from None


def test_call_soon_runs_in_order() -> None:
    reactor = Reactor()
    seen: list[int] = []
    for i in range(5):
        reactor.call_soon(seen.append, i)
    reactor.run_once(max_wait=0)
    assert seen == [0, 1, 2, 3, 4]
    reactor.close()


def test_call_soon_from_a_callback_runs_next_tick() -> None:
    reactor = Reactor()
    seen: list[str] = []

    def first() -> None:
        seen.append("first")
        reactor.call_soon(seen.append, "second")

    reactor.call_soon(first)
    reactor.run_once(max_wait=0)
    assert seen == ["first"]
    reactor.run_once(max_wait=0)
    assert seen == ["first", "second"]
    reactor.close()


def test_timers_fire_in_deadline_order(loop: LoopThread) -> None:
    fired: queue.Queue[object] = queue.Queue()
    reactor = loop.reactor
    started = time.monotonic()
    reactor.call_later(0.15, fired.put, "c")
    reactor.call_later(0.05, fired.put, "a")
    reactor.call_at(reactor.time() + 0.1, fired.put, "b")
    cancelled = reactor.call_later(0.07, fired.put, "cancelled")
    cancelled.cancel()
    loop.start()
    assert [get(fired), get(fired), get(fired)] == ["a", "b", "c"]
    assert time.monotonic() - started >= 0.15
    loop.stop()
    assert fired.empty()


def test_timer_not_early(loop: LoopThread) -> None:
    fired: queue.Queue[object] = queue.Queue()
    loop.start()
    started = time.monotonic()
    loop.reactor.call_soon_threadsafe(lambda: loop.reactor.call_later(0.1, fired.put, 1))
    get(fired)
    assert time.monotonic() - started >= 0.1
    loop.stop()


def test_call_soon_threadsafe_wakes_idle_loop(loop: LoopThread) -> None:
    """The loop has nothing to wait for (it blocks in select with no timeout) until woken."""
    loop.start()
    ran: queue.Queue[object] = queue.Queue()
    for i in range(3):
        started = time.monotonic()
        loop.reactor.call_soon_threadsafe(lambda i=i: ran.put((i, loop.reactor.in_loop_thread())))
        assert get(ran, timeout=2) == (i, True)
        assert time.monotonic() - started < 1.0
    loop.stop()


def test_call_soon_threadsafe_from_many_threads(loop: LoopThread) -> None:
    loop.start()
    ran: queue.Queue[tuple[int, int]] = queue.Queue()

    def worker(n: int) -> None:
        for i in range(50):
            loop.reactor.call_soon_threadsafe(ran.put, (n, i))

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=WAIT)
    got = [ran.get(timeout=WAIT) for _ in range(200)]
    assert sorted(got) == sorted((n, i) for n in range(4) for i in range(50))
    for n in range(4):  # each thread's calls in its own order
        assert [i for m, i in got if m == n] == list(range(50))
    loop.stop()


def test_stop_from_another_thread(loop: LoopThread) -> None:
    loop.start()
    ran: queue.Queue[object] = queue.Queue()
    loop.reactor.call_soon_threadsafe(ran.put, "running")
    assert get(ran) == "running"
    assert loop.reactor.running
    loop.stop()
    assert not loop.reactor.running


def test_error_in_callback_does_not_stop_loop(
    loop: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    ran: queue.Queue[object] = queue.Queue()

    def boom() -> None:
        raise RuntimeError("boom")

    loop.reactor.call_soon(boom)
    loop.reactor.call_later(0.01, boom)
    loop.reactor.call_later(0.02, ran.put, "after")
    loop.start()
    assert get(ran) == "after"
    loop.stop()
    assert sum("unhandled error" in r.getMessage() for r in caplog.records) == 2


def test_dirty_objects_flushed_once_at_end_of_tick() -> None:
    reactor = Reactor()
    log: list[str] = []

    class Flushable:
        def flush(self) -> None:
            log.append("flush")

    obj = Flushable()

    def work(name: str) -> Callable[[], None]:
        def run() -> None:
            log.append(name)
            if name == "one":
                reactor.mark_dirty(obj)

        return run

    reactor.call_soon(work("one"))
    reactor.call_soon(work("two"))
    reactor.run_once(max_wait=0)
    assert log == ["one", "two", "flush"]
    reactor.close()


def test_flush_may_dirty_another_object() -> None:
    reactor = Reactor()
    log: list[str] = []

    class Second:
        def flush(self) -> None:
            log.append("second")

    class First:
        def flush(self) -> None:
            log.append("first")
            reactor.mark_dirty(Second())

    reactor.call_soon(reactor.mark_dirty, First())
    reactor.run_once(max_wait=0)
    assert log == ["first", "second"]
    reactor.close()


# -- Alarmed: one timer following a moving deadline, on a fake clock ---------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def wall_time(self) -> float:
        return 1.7e9 + self.t


class Owner(Alarmed):
    """A shell that records when its alarm fires."""

    __slots__ = ("clock", "fired")

    def __init__(self, clock: FakeClock) -> None:
        self.init_alarm()
        self.clock = clock
        self.fired: list[float] = []

    def on_alarm(self) -> None:
        self.fired.append(self.clock.t)


@pytest.fixture
def clocked() -> Iterator[tuple[Reactor, FakeClock, Owner]]:
    clock = FakeClock()
    reactor = Reactor(clock)
    yield reactor, clock, Owner(clock)
    reactor.close()


def test_alarm_fires_at_its_deadline(clocked: tuple[Reactor, FakeClock, Owner]) -> None:
    reactor, clock, owner = clocked
    owner.set_alarm(reactor, 1005.0)
    clock.t = 1004.9
    reactor.run_once(max_wait=0)
    assert owner.fired == []
    clock.t = 1005.0
    reactor.run_once(max_wait=0)
    assert owner.fired == [1005.0]
    clock.t = 2000.0
    reactor.run_once(max_wait=0)
    assert owner.fired == [1005.0]  # once


def test_alarm_set_later_keeps_the_earlier_timer(
    clocked: tuple[Reactor, FakeClock, Owner],
) -> None:
    reactor, clock, owner = clocked
    owner.set_alarm(reactor, 1001.0)
    owner.set_alarm(reactor, 1009.0)  # lazy: the earlier timer fires, the owner sets it again
    assert len(reactor._timers) == 1
    clock.t = 1001.0
    reactor.run_once(max_wait=0)
    assert owner.fired == [1001.0]


def test_alarm_set_earlier_replaces_the_timer(clocked: tuple[Reactor, FakeClock, Owner]) -> None:
    reactor, clock, owner = clocked
    owner.set_alarm(reactor, 1009.0)
    owner.set_alarm(reactor, 1002.0)
    clock.t = 1002.0
    reactor.run_once(max_wait=0)
    assert owner.fired == [1002.0]
    clock.t = 1009.0
    reactor.run_once(max_wait=0)
    assert owner.fired == [1002.0]  # the replaced timer was cancelled


def test_alarm_none_and_cancel_stop_it(clocked: tuple[Reactor, FakeClock, Owner]) -> None:
    reactor, clock, owner = clocked
    owner.set_alarm(reactor, 1001.0)
    owner.set_alarm(reactor, None)
    owner.set_alarm(reactor, 1002.0)
    owner.cancel_alarm()
    clock.t = 1100.0
    reactor.run_once(max_wait=0)
    assert owner.fired == []
    assert reactor.wall_time() == 1.7e9 + 1100.0
