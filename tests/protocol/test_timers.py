"""TimerHeap: deadlines in order, ties in insertion order, lazy cancel; time is an argument."""

from __future__ import annotations

from typing import Any

from reactor import TimerHandle, TimerHeap


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
