"""TimerHeap: deadlines in order, ties in insertion order, lazy cancel; time is an argument."""

from __future__ import annotations

from typing import Any

from reactor import TimerHandle, TimerHeap
from reactor.timers import COMPACT_MIN


def _noop(*args: Any) -> None:
    return None


def _fire(handles: list[TimerHandle]) -> list[Any]:
    """Run the callbacks the way the reactor does and collect what they return."""
    return [handle.callback(*handle.args) for handle in handles]


def _tag(name: str) -> str:
    return name


def test_timers_empty_heap() -> None:
    heap = TimerHeap()
    assert len(heap) == 0
    assert heap.next_deadline() is None
    assert heap.pop_due(1e9) == []


def test_timers_push_returns_a_handle_with_its_call() -> None:
    heap = TimerHeap()
    handle = heap.push(5.0, _tag, "a")
    assert (handle.when, handle.callback, handle.args, handle.cancelled) == (
        5.0,
        _tag,
        ("a",),
        False,
    )
    assert len(heap) == 1


def test_timers_pop_due_in_deadline_order() -> None:
    heap = TimerHeap()
    for when, name in [(3.0, "c"), (1.0, "a"), (2.0, "b"), (5.0, "e"), (4.0, "d")]:
        heap.push(when, _tag, name)
    assert heap.next_deadline() == 1.0
    assert _fire(heap.pop_due(3.0)) == ["a", "b", "c"]  # a deadline equal to now is due
    assert heap.next_deadline() == 4.0
    assert len(heap) == 2
    assert _fire(heap.pop_due(10.0)) == ["d", "e"]
    assert heap.next_deadline() is None


def test_timers_nothing_due_before_the_first_deadline() -> None:
    heap = TimerHeap()
    heap.push(2.0, _tag, "a")
    assert heap.pop_due(1.999) == []
    assert len(heap) == 1


def test_timers_ties_fire_in_insertion_order() -> None:
    heap = TimerHeap()
    names = [f"t{i}" for i in range(50)]
    for name in names:
        heap.push(7.0, _tag, name)
    assert _fire(heap.pop_due(7.0)) == names


def test_timers_ties_keep_insertion_order_across_other_deadlines() -> None:
    heap = TimerHeap()
    heap.push(2.0, _tag, "x1")
    heap.push(1.0, _tag, "early")
    heap.push(2.0, _tag, "x2")
    heap.push(3.0, _tag, "late")
    heap.push(2.0, _tag, "x3")
    assert _fire(heap.pop_due(3.0)) == ["early", "x1", "x2", "x3", "late"]


def test_timers_cancelled_timer_is_not_returned() -> None:
    heap = TimerHeap()
    keep = heap.push(1.0, _tag, "keep")
    drop = heap.push(1.0, _tag, "drop")
    drop.cancel()
    assert drop.cancelled
    assert heap.pop_due(1.0) == [keep]
    assert len(heap) == 0  # the cancelled entry left the heap with it


def test_timers_cancel_is_idempotent() -> None:
    heap = TimerHeap()
    handle = heap.push(1.0, _noop)
    handle.cancel()
    handle.cancel()
    assert handle.cancelled
    assert heap.pop_due(2.0) == []


def test_timers_cancel_after_firing_is_harmless() -> None:
    heap = TimerHeap()
    handle = heap.push(1.0, _noop)
    assert heap.pop_due(1.0) == [handle]
    handle.cancel()
    assert heap.next_deadline() is None


def test_timers_cancelled_entries_stay_until_they_surface() -> None:
    heap = TimerHeap()
    heap.push(1.0, _noop).cancel()
    heap.push(2.0, _noop)
    assert len(heap) == 2  # lazy: cancelling does not search the heap


def test_timers_next_deadline_skips_cancelled_timers() -> None:
    heap = TimerHeap()
    first = heap.push(1.0, _noop)
    second = heap.push(2.0, _noop)
    heap.push(3.0, _noop)
    first.cancel()
    second.cancel()
    assert heap.next_deadline() == 3.0
    assert len(heap) == 1  # the cancelled heads were dropped on the way


def test_timers_next_deadline_none_when_everything_is_cancelled() -> None:
    heap = TimerHeap()
    for when in (1.0, 2.0):
        heap.push(when, _noop).cancel()
    assert heap.next_deadline() is None
    assert len(heap) == 0


def test_timers_cancelled_timer_in_the_middle_is_skipped_by_pop_due() -> None:
    heap = TimerHeap()
    heap.push(1.0, _tag, "a")
    heap.push(2.0, _tag, "b").cancel()
    heap.push(3.0, _tag, "c")
    assert _fire(heap.pop_due(3.0)) == ["a", "c"]


def test_timers_push_after_pop_due() -> None:
    heap = TimerHeap()
    heap.push(1.0, _tag, "a")
    heap.pop_due(1.0)
    heap.push(0.5, _tag, "past")  # a deadline already passed is due at once
    assert _fire(heap.pop_due(1.0)) == ["past"]


def test_timers_negative_and_float_deadlines() -> None:
    heap = TimerHeap()
    heap.push(-1.5, _tag, "neg")
    heap.push(0.1 + 0.2, _tag, "float")
    assert heap.next_deadline() == -1.5
    assert _fire(heap.pop_due(0.30000000000000004)) == ["neg", "float"]


def test_timers_callbacks_may_take_no_args_or_many() -> None:
    heap = TimerHeap()
    heap.push(1.0, lambda: "none")
    heap.push(1.0, lambda a, b, c: a + b + c, 1, 2, 3)
    assert _fire(heap.pop_due(1.0)) == ["none", 6]


def test_timers_cancelled_entries_are_removed_when_they_are_most_of_the_heap() -> None:
    # A connection's early-cancelled timers must not wait a minute for their deadline to leave.
    heap = TimerHeap()
    live = [heap.push(100.0 + i, _tag, f"live{i}") for i in range(COMPACT_MIN)]
    doomed = [heap.push(50.0 + i, _noop) for i in range(COMPACT_MIN + 1)]
    for handle in doomed[:-1]:
        handle.cancel()
    assert len(heap) == 2 * COMPACT_MIN + 1  # not yet more than half
    doomed[-1].cancel()
    assert len(heap) == COMPACT_MIN  # all cancelled entries gone at once
    assert heap.next_deadline() == 100.0
    assert _fire(heap.pop_due(1e9)) == [f"live{i}" for i in range(COMPACT_MIN)]
    assert all(handle.heap is None for handle in live)


def test_timers_count_of_cancelled_entries_survives_surfacing_and_firing() -> None:
    # Cancelled entries that surfaced, and handles cancelled after firing, are not counted again.
    heap = TimerHeap()
    fired = heap.push(1.0, _noop)
    for i in range(COMPACT_MIN):
        heap.push(2.0 + i, _noop).cancel()
    assert heap.pop_due(1.0) == [fired]
    fired.cancel()
    assert heap.next_deadline() is None
    assert len(heap) == 0
    keep = [heap.push(10.0, _tag, str(i)) for i in range(3)]
    heap.push(5.0, _noop).cancel()
    assert len(heap) == 4  # one cancelled among four: kept until it surfaces
    assert _fire(heap.pop_due(10.0)) == ["0", "1", "2"] and all(h.heap is None for h in keep)
