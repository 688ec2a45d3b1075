"""Binary placeholders: ``deconstruct`` / ``reconstruct`` / ``has_binary``, pure functions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sio.errors import PacketError
from sio.protocol.binary import deconstruct, has_binary, reconstruct
from sio.protocol.packet import MAX_DEPTH


def placeholder(num: int) -> dict[str, Any]:
    return {"_placeholder": True, "num": num}


# (id, data, deconstructed data, attachments)
DECONSTRUCT_CASES: list[tuple[str, Any, Any, list[bytes]]] = [
    ("bytes", b"abc", placeholder(0), [b"abc"]),
    ("bytearray", bytearray(b"abc"), placeholder(0), [b"abc"]),
    ("memoryview", memoryview(b"abc"), placeholder(0), [b"abc"]),
    ("empty-bytes", b"", placeholder(0), [b""]),
    ("in-list", ["a", b"\x01\x02"], ["a", placeholder(0)], [b"\x01\x02"]),
    ("in-dict", {"k": b"\x00"}, {"k": placeholder(0)}, [b"\x00"]),
    ("in-tuple", ("a", b"x"), ["a", placeholder(0)], [b"x"]),
    (
        "nested",
        ["a", {"b": ["c", b"abc"]}],
        ["a", {"b": ["c", placeholder(0)]}],
        [b"abc"],
    ),
    (
        "several-in-order",
        ["e", b"1", {"x": b"2", "y": [bytearray(b"3"), (memoryview(b"4"),)]}, b"5"],
        [
            "e",
            placeholder(0),
            {"x": placeholder(1), "y": [placeholder(2), [placeholder(3)]]},
            placeholder(4),
        ],
        [b"1", b"2", b"3", b"4", b"5"],
    ),
    ("same-object-twice", [b"s", b"s"], [placeholder(0), placeholder(1)], [b"s", b"s"]),
    ("no-binary", ["a", 1, {"b": [None, True]}], ["a", 1, {"b": [None, True]}], []),
    ("scalar", "text", "text", []),
    ("none", None, None, []),
]


@pytest.mark.parametrize(
    ("data", "expected", "attachments"),
    [c[1:] for c in DECONSTRUCT_CASES],
    ids=[c[0] for c in DECONSTRUCT_CASES],
)
def test_binary_deconstruct(data: Any, expected: Any, attachments: list[bytes]) -> None:
    result, found = deconstruct(data)
    assert result == expected
    assert found == attachments
    assert all(type(item) is bytes for item in found)


@pytest.mark.parametrize(
    ("data", "expected", "attachments"),
    [c[1:] for c in DECONSTRUCT_CASES],
    ids=[c[0] for c in DECONSTRUCT_CASES],
)
def test_binary_reconstruct(data: Any, expected: Any, attachments: list[bytes]) -> None:
    restored = reconstruct(copy.deepcopy(expected), attachments)
    assert restored == _normalized(data)


def _normalized(data: Any) -> Any:
    """What a round trip gives back: tuples become lists, any binary becomes bytes."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (list, tuple)):
        return [_normalized(item) for item in data]
    if isinstance(data, dict):
        return {key: _normalized(item) for key, item in data.items()}
    return data


def test_binary_deconstruct_leaves_input_untouched() -> None:
    data = ["a", {"b": b"x"}, [b"y"]]
    before = copy.deepcopy(data)
    deconstruct(data)
    assert data == before


def test_binary_deconstruct_copies_binary() -> None:
    buffer = bytearray(b"abc")
    _, attachments = deconstruct([buffer])
    buffer[0] = ord("z")
    assert attachments == [b"abc"]


def test_binary_reconstruct_puts_the_same_attachment_twice() -> None:
    data = [placeholder(0), {"again": placeholder(0)}]
    assert reconstruct(data, [b"x"]) == [b"x", {"again": b"x"}]


def test_binary_reconstruct_ignores_extra_attachments() -> None:
    assert reconstruct(["a", placeholder(0)], [b"x", b"unused"]) == ["a", b"x"]


@pytest.mark.parametrize(
    "bad",
    [
        {"_placeholder": True},
        {"_placeholder": True, "num": -1},
        {"_placeholder": True, "num": 1},
        {"_placeholder": True, "num": 10**20},
        {"_placeholder": True, "num": "0"},
        {"_placeholder": True, "num": "splice"},
        {"_placeholder": True, "num": 0.0},
        {"_placeholder": True, "num": 0.5},
        {"_placeholder": True, "num": True},
        {"_placeholder": True, "num": False},
        {"_placeholder": True, "num": None},
        {"_placeholder": True, "num": [0]},
        {"_placeholder": True, "num": {"n": 0}},
    ],
    ids=[
        "missing",
        "negative",
        "out-of-range",
        "huge",
        "string-digit",
        "string",
        "float-zero",
        "float",
        "true",
        "false",
        "null",
        "list",
        "object",
    ],
)
def test_binary_reconstruct_bad_placeholder(bad: dict[str, Any]) -> None:
    # One attachment: only num == 0 (an int, not a bool or float) is valid.
    with pytest.raises(PacketError, match="illegal attachments"):
        reconstruct(["e", {"deep": [bad]}], [b"x"])


def test_binary_reconstruct_placeholder_without_attachments() -> None:
    with pytest.raises(PacketError, match="illegal attachments"):
        reconstruct(["e", placeholder(0)], [])


@pytest.mark.parametrize(
    "lookalike",
    [
        {"_placeholder": False, "num": 0},
        {"_placeholder": 1, "num": 0},
        {"_placeholder": "true", "num": 0},
        {"_placeholder": None, "num": 0},
        {"num": 0},
        {"placeholder": True, "num": 0},
    ],
    ids=["false", "one", "string", "null", "no-flag", "other-key"],
)
def test_binary_reconstruct_leaves_lookalikes_alone(lookalike: dict[str, Any]) -> None:
    data = ["e", lookalike, {"nested": lookalike}]
    assert reconstruct(copy.deepcopy(data), [b"x"]) == data


def test_binary_reconstruct_looks_inside_non_placeholder_dicts() -> None:
    data = {"_placeholder": False, "inner": placeholder(0)}
    assert reconstruct(data, [b"x"]) == {"_placeholder": False, "inner": b"x"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", True),
        (b"x", True),
        (bytearray(), True),
        (memoryview(b"x"), True),
        (["a", b"x"], True),
        (("a", (b"x",)), True),
        ({"k": {"k": [1, bytearray(b"x")]}}, True),
        ([1, "bytes", {"b": "x"}], False),
        ({b"key": "value"}, False),  # only values are searched
        ([], False),
        ({}, False),
        (None, False),
        ("b'x'", False),
        (0, False),
    ],
    ids=[
        "empty-bytes",
        "bytes",
        "bytearray",
        "memoryview",
        "list",
        "tuples",
        "nested",
        "text-only",
        "binary-key",
        "empty-list",
        "empty-dict",
        "none",
        "string",
        "int",
    ],
)
def test_binary_has_binary(data: Any, expected: bool) -> None:
    assert has_binary(data) is expected


def _deep_list(depth: int, leaf: Any) -> Any:
    data: Any = leaf
    for _ in range(depth):
        data = [data]
    return data


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 10_000])
def test_binary_has_binary_too_deep_raises_value_error(depth: int) -> None:
    # Local data (what we are asked to send), so ValueError: never RecursionError.
    with pytest.raises(ValueError, match="too deeply"):
        has_binary(_deep_list(depth, 1))


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 10_000])
def test_binary_deconstruct_too_deep_raises_value_error(depth: int) -> None:
    with pytest.raises(ValueError, match="too deeply"):
        deconstruct(_deep_list(depth, b"x"))


def test_binary_deep_but_allowed_data_round_trips() -> None:
    data = _deep_list(MAX_DEPTH - 1, b"x")
    assert has_binary(data) is True
    flat, attachments = deconstruct(data)
    assert attachments == [b"x"]
    assert reconstruct(flat, attachments) == data
