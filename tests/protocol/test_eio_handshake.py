"""The OPEN packet's JSON: compact, exactly five keys, and parsed back strictly."""

from __future__ import annotations

import json

import pytest

from eio.protocol.handshake import OpenPayload

PAYLOAD = OpenPayload("abc-_123", ("websocket",), 25000, 20000, 1_000_000)
WIRE = (
    '{"sid":"abc-_123","upgrades":["websocket"],'
    '"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
)


def test_eio_handshake_to_json_is_compact_with_the_five_keys_in_order() -> None:
    text = PAYLOAD.to_json()
    assert text == WIRE
    assert " " not in text
    assert list(json.loads(text)) == [
        "sid",
        "upgrades",
        "pingInterval",
        "pingTimeout",
        "maxPayload",
    ]


def test_eio_handshake_to_json_without_upgrades() -> None:
    payload = OpenPayload("s", (), 300, 200, 100)
    assert payload.to_json() == (
        '{"sid":"s","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":100}'
    )


def test_eio_handshake_round_trip() -> None:
    assert OpenPayload.from_json(PAYLOAD.to_json()) == PAYLOAD


def test_eio_handshake_from_json_defaults() -> None:
    payload = OpenPayload.from_json('{"sid":"s","pingInterval":1,"pingTimeout":2}')
    assert payload == OpenPayload("s", (), 1, 2, 1_000_000)


def test_eio_handshake_from_json_ignores_extra_keys() -> None:
    text = '{"sid":"s","upgrades":[],"pingInterval":1,"pingTimeout":2,"maxPayload":3,"x":true}'
    assert OpenPayload.from_json(text) == OpenPayload("s", (), 1, 2, 3)


def test_eio_handshake_from_json_accepts_zero() -> None:
    text = '{"sid":"s","upgrades":[],"pingInterval":0,"pingTimeout":0,"maxPayload":0}'
    assert OpenPayload.from_json(text) == OpenPayload("s", (), 0, 0, 0)


def test_eio_handshake_is_frozen() -> None:
    with pytest.raises(AttributeError):
        PAYLOAD.sid = "other"  # type: ignore[misc]


GOOD = {"sid": "s", "upgrades": ["websocket"], "pingInterval": 1, "pingTimeout": 2, "maxPayload": 3}

# (id, text) that from_json must refuse with ValueError
BAD: list[tuple[str, str]] = [
    ("not-json", "{sid"),
    ("empty", ""),
    ("array", "[]"),
    ("string", '"sid"'),
    ("null", "null"),
    ("no-sid", json.dumps({k: v for k, v in GOOD.items() if k != "sid"})),
    ("empty-sid", json.dumps({**GOOD, "sid": ""})),
    ("number-sid", json.dumps({**GOOD, "sid": 5})),
    ("upgrades-string", json.dumps({**GOOD, "upgrades": "websocket"})),
    ("upgrades-number-item", json.dumps({**GOOD, "upgrades": ["websocket", 1]})),
    ("no-ping-interval", json.dumps({k: v for k, v in GOOD.items() if k != "pingInterval"})),
    ("no-ping-timeout", json.dumps({k: v for k, v in GOOD.items() if k != "pingTimeout"})),
    ("interval-string", json.dumps({**GOOD, "pingInterval": "25000"})),
    ("interval-float", json.dumps({**GOOD, "pingInterval": 25.5})),
    ("interval-bool", json.dumps({**GOOD, "pingInterval": True})),
    ("timeout-negative", json.dumps({**GOOD, "pingTimeout": -1})),
    ("timeout-null", json.dumps({**GOOD, "pingTimeout": None})),
    ("max-payload-bool", json.dumps({**GOOD, "maxPayload": False})),
    ("max-payload-negative", json.dumps({**GOOD, "maxPayload": -5})),
    ("max-payload-null", json.dumps({**GOOD, "maxPayload": None})),
]


@pytest.mark.parametrize("text", [c[1] for c in BAD], ids=[c[0] for c in BAD])
def test_eio_handshake_from_json_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        OpenPayload.from_json(text)


def test_eio_handshake_good_fixture_is_accepted() -> None:
    # Guards the BAD table: each of its cases differs from an accepted payload in one key.
    assert OpenPayload.from_json(json.dumps(GOOD)) == OpenPayload("s", ("websocket",), 1, 2, 3)


def test_open_payload_nested_deep_is_a_value_error_not_a_recursion_error() -> None:
    from eio.protocol.handshake import OpenPayload

    for text in ("[" * 100_000, '{"sid":' + "[" * 100_000, '{"sid":"x","a":' + "{}" * 5 + "}"):
        try:
            OpenPayload.from_json(text)
        except ValueError:
            continue
        raise AssertionError(f"accepted {text[:40]!r}")
