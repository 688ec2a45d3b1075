"""``sio/protocol/notepack.py`` against bytes notepack.io 3.0.1 wrote (``notepack.encode(v)``
in Node, from ``tests/node/node_modules/notepack.io``, pasted here as hex)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("msgpack")

from sio.protocol.notepack import MAX_DEPTH, NotepackError, check_depth, pack, unpack

#: name -> (the JavaScript value, as Python; notepack.encode's bytes).
CAPTURED: dict[str, tuple[Any, str]] = {
    "nil": (None, "c0"),
    "true": (True, "c3"),
    "false": (False, "c2"),
    "int0": (0, "00"),
    "int127": (127, "7f"),
    "int128": (128, "cc80"),
    "int65535": (65535, "cdffff"),
    "int65536": (65536, "ce00010000"),
    "neg1": (-1, "ff"),
    "neg33": (-33, "d0df"),
    "neg129": (-129, "d1ff7f"),
    "neg40000": (-40000, "d2ffff63c0"),
    "big": (2**40, "cf0000010000000000"),
    "negbig": (-(2**40), "d3ffffff0000000000"),
    "float": (1.5, "cb3ff8000000000000"),
    "str": ("héllo", "a668c3a96c6c6f"),
    "str32": ("x" * 32, "d920" + "78" * 32),
    "str300": ("y" * 300, "da012c" + "79" * 300),
    "array": ([1, "a", None], "9301a161c0"),
    "map": ({"a": 1, "b": [True, False]}, "82a16101a16292c3c2"),
    "buffer": (b"\x01\x02\x03", "c403010203"),
    # The adapter's broadcast envelope, as Node's RedisAdapter encodes it.
    "envelope": (
        [
            "abc123",
            {"type": 2, "data": ["chat message", "hi from A"], "nsp": "/"},
            {"rooms": [], "except": ["sid1"], "flags": {}},
        ],
        "93a661626331323383a47479706502a46461746192ac63686174206d657373616765a968692066726f6d"
        "2041a36e7370a12f83a5726f6f6d7390a665786365707491a473696431a5666c61677380",
    ),
    "binary envelope": (
        [
            "abc123",
            {"type": 2, "data": ["bin", b"\x00\xff"], "nsp": "/"},
            {"rooms": ["r1"], "except": [], "flags": {"volatile": True, "timeout": 5000}},
        ],
        "93a661626331323383a47479706502a46461746192a362696ec40200ffa36e7370a12f83a5726f6f6d73"
        "91a27231a665786365707490a5666c61677382a8766f6c6174696c65c3a774696d656f7574cd1388",
    ),
    "ack request": (
        {
            "uid": "abc123",
            "requestId": "XyZ123",
            "type": 7,
            "packet": {"type": 2, "data": ["q", 1], "nsp": "/"},
            "opts": {"rooms": [], "except": [], "flags": {"timeout": 1000}},
        },
        "85a3756964a6616263313233a9726571756573744964a658795a313233a47479706507a67061636b6574"
        "83a47479706502a46461746192a17101a36e7370a12fa46f70747383a5726f6f6d7390a6657863657074"
        "90a5666c61677381a774696d656f7574cd03e8",
    ),
    "ack response": (
        {"type": 9, "requestId": "XyZ123", "packet": "answer"},
        "83a47479706509a9726571756573744964a658795a313233a67061636b6574a6616e73776572",
    ),
}


@pytest.mark.parametrize("name", list(CAPTURED))
def test_pack_writes_what_notepack_writes(name: str) -> None:
    value, hexed = CAPTURED[name]
    assert pack(value).hex() == hexed


@pytest.mark.parametrize("name", list(CAPTURED))
def test_unpack_reads_what_notepack_writes(name: str) -> None:
    value, hexed = CAPTURED[name]
    assert unpack(bytes.fromhex(hexed)) == value


def test_javascript_values_without_a_python_twin() -> None:
    # notepack writes undefined as nil, and leaves it out of objects.
    assert unpack(bytes.fromhex("92c001")) == [None, 1]  # [undefined, 1]
    assert unpack(bytes.fromhex("81a16201")) == {"b": 1}  # {a: undefined, b: 1}
    # ArrayBuffers and typed arrays are written as bin: bytes.
    assert unpack(bytes.fromhex("c4020405")) == b"\x04\x05"  # new Uint8Array([4,5]).buffer
    # Dates: timestamps, read as Date.toJSON writes them.
    assert unpack(bytes.fromhex("d7ffa1a5d60065937d25")) == "2024-01-02T03:04:05.678Z"
    assert unpack(bytes.fromhex("d6ff65937d25")) == "2024-01-02T03:04:05.000Z"


def test_legacy_extensions() -> None:
    """What older notepack versions wrote, and notepack 3 still reads."""
    assert unpack(bytes.fromhex("92d40000c0")) == [None, None]  # [undefined, null]
    assert unpack(bytes.fromhex("82a161d40000a16201")) == {"b": 1}  # undefined member dropped
    assert unpack(bytes.fromhex("d40000")) is None
    assert unpack(bytes.fromhex("c70300010203")) == b"\x01\x02\x03"  # an ArrayBuffer (ext 0)
    assert unpack(bytes.fromhex("c8000300010203")) == b"\x01\x02\x03"
    # Another extension type: [type, data], as notepack.
    assert unpack(bytes.fromhex("d50501ff")) == [5, b"\x01\xff"]
    # A date inside a map and an array.
    assert unpack(bytes.fromhex("81a164" + "91d6ff65937d25")) == {"d": ["2024-01-02T03:04:05.000Z"]}


def test_binary_types_are_bin() -> None:
    assert pack([bytearray(b"a"), memoryview(b"bc")]).hex() == "92c40161c4026263"
    assert pack((1, 2)) == pack([1, 2])


def test_invalid_utf8_is_replaced_as_node_does() -> None:
    assert unpack(bytes.fromhex("a2fffe")) == "\ufffd\ufffd"


@pytest.mark.parametrize(
    "hexed",
    [
        "",  # nothing
        "c1",  # never used
        "91",  # an array missing its item
        "a5616263",  # a string shorter than announced
        "0102",  # trailing bytes
        "dd ffffffff".replace(" ", ""),  # 4 G items announced in 5 bytes
        "c6ffffffff00",  # a 4 GB bin announced
        "8101a0",  # an integer map key (notepack never writes one)
        "81" + "91" + "01" + "a0",  # an array as map key
        "81c4016ba0",  # a binary map key (msgpack-python takes it; notepack never writes one)
        "91" + "81c4016ba0",  # the same, nested
        "d7ff" + "ffffffffffffffff",  # a timestamp beyond Python's dates
    ],
)
def test_garbage_is_a_notepack_error(hexed: str) -> None:
    with pytest.raises(NotepackError):
        unpack(bytes.fromhex(hexed))


def test_depth_is_limited() -> None:
    fits = bytes.fromhex("91" * MAX_DEPTH + "01")  # MAX_DEPTH arrays, one in the other
    value = unpack(fits)
    for _ in range(MAX_DEPTH):
        value = value[0]
    assert value == 1
    with pytest.raises(NotepackError):
        unpack(bytes.fromhex("91" * (MAX_DEPTH + 1) + "01"))
    with pytest.raises(NotepackError):
        unpack(bytes.fromhex("81a16191" * (MAX_DEPTH // 2 + 1) + "c0"))
    with pytest.raises(NotepackError):  # msgpack's own stack limit, far beyond
        unpack(bytes.fromhex("91" * 5000 + "01"))
    deep: Any = 1
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(NotepackError):
        check_depth(deep)
    assert check_depth({"a": [1]}) == {"a": [1]}


def test_pack_refuses_what_notepack_cannot_carry() -> None:
    with pytest.raises(TypeError):
        pack({1, 2})
    with pytest.raises(TypeError):
        pack(object())
    with pytest.raises(NotepackError):
        pack(2**64)
    with pytest.raises(NotepackError):
        pack("\ud800")
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(NotepackError):
        pack(cycle)
