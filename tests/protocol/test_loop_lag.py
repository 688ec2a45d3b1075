"""The loop-lag histogram (plain data) and its monitor, on a reactor with a fake clock."""

from __future__ import annotations

from reactor import LagHistogram, LoopLagMonitor, Reactor


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def wall_time(self) -> float:
        return self.t


def test_histogram_buckets_are_upper_bounds_and_cumulative() -> None:
    histogram = LagHistogram((0.01, 0.1, 1.0))
    for value in (0.0, 0.01, 0.05, 0.5, 3.0):
        histogram.observe(value)
    assert histogram.counts == [2, 1, 1, 1]  # 0.01 itself is "<= 0.01"
    assert histogram.cumulative() == [(0.01, 2), (0.1, 3), (1.0, 4), (float("inf"), 5)]
    assert histogram.count == 5
    assert abs(histogram.sum - 3.56) < 1e-9


def test_monitor_observes_how_late_its_timer_ran() -> None:
    clock = FakeClock()
    reactor = Reactor(clock)
    try:
        monitor = LoopLagMonitor(reactor, interval=0.25)
        monitor.start()
        clock.t += 0.25  # on time
        reactor.run_once(0)
        clock.t += 0.25 + 0.3  # a tick that blocked for 0.3 s
        reactor.run_once(0)
        clock.t += 0.1  # not due yet
        reactor.run_once(0)
        assert monitor.histogram.count == 2
        assert abs(monitor.histogram.sum - 0.3) < 1e-9
        monitor.stop()
        clock.t += 10
        reactor.run_once(0)
        assert monitor.histogram.count == 2
    finally:
        reactor.close()
