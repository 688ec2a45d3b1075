"""Session ids: 20 URL-safe characters from the CSPRNG."""

from __future__ import annotations

import re

from eio.protocol.sid import generate_sid

URL_SAFE = re.compile(r"[A-Za-z0-9_-]{20}")


def test_eio_sid_is_20_url_safe_characters() -> None:
    sid = generate_sid()
    assert URL_SAFE.fullmatch(sid), sid


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
