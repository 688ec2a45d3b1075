"""Session ids: 20 URL-safe characters from the CSPRNG, after an optional worker tag."""

from __future__ import annotations

import re

import pytest

from eio.protocol.sid import generate_sid

URL_SAFE = re.compile(r"[A-Za-z0-9_-]{20}")


def test_eio_sid_is_20_url_safe_characters() -> None:
    sid = generate_sid()
    assert URL_SAFE.fullmatch(sid), sid


@pytest.mark.parametrize("tag", ["w3.", "worker-12_", "0"])
def test_eio_sid_tag_prefix(tag: str) -> None:
    sid = generate_sid(tag)
    assert sid.startswith(tag)
    assert URL_SAFE.fullmatch(sid[len(tag) :]), sid


def test_eio_sid_empty_tag_is_no_tag() -> None:
    assert len(generate_sid("")) == 20


def test_eio_sid_unique_over_many_draws() -> None:
    sids = {generate_sid() for _ in range(20_000)}
    assert len(sids) == 20_000


def test_eio_sid_uses_the_whole_alphabet() -> None:
    # 120 random bits per id: over many ids every one of the 64 characters shows up, and no
    # position is stuck (a sign of a counter or a time stamp instead of randomness).
    sids = [generate_sid() for _ in range(2_000)]
    assert set("".join(sids)) == set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    for position in range(20):
        assert len({sid[position] for sid in sids}) > 32
