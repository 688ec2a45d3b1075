"""Sticky dispatch, sans-IO: the slot of a client address, and the client address a trusted
proxy names in the first request's head."""

from __future__ import annotations

import collections
import ipaddress
import zlib

import pytest

from cluster.sticky import MAX_PEEK, forwarded_client, head_complete, normalize_ip, slot_for

# -- slot_for -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "::1", "2001:db8::17", "fe80::1%eth0", "[2001:db8::17]", "junk"],
)
@pytest.mark.parametrize("slots", [2, 3, 4, 7, 64])
def test_slot_is_in_range_and_stable(address: str, slots: int) -> None:
    slot = slot_for(address, slots)
    assert 0 <= slot < slots
    assert all(slot_for(address, slots) == slot for _ in range(10))


def test_slot_depends_only_on_the_address_not_on_the_port_or_spelling() -> None:
    assert slot_for("2001:db8::17", 5) == slot_for("2001:0db8:0000::0017", 5)
    assert slot_for("2001:db8::17", 5) == slot_for("[2001:db8::17]", 5)
    assert slot_for(" 10.0.0.9 ", 5) == slot_for("10.0.0.9", 5)


def test_ipv4_mapped_ipv6_is_the_ipv4_address() -> None:
    """A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d: same client, same slot."""
    assert normalize_ip("::ffff:192.0.2.7") == normalize_ip("192.0.2.7")
    for last in range(1, 60):
        v4 = f"192.0.2.{last}"
        assert slot_for(f"::ffff:{v4}", 7) == slot_for(v4, 7)


def test_scope_id_is_ignored() -> None:
    assert normalize_ip("fe80::1%eth0") == normalize_ip("fe80::1")


def test_ipv4_and_ipv6_addresses_are_packed() -> None:
    assert normalize_ip("10.0.0.1") == bytes([10, 0, 0, 1])
    assert normalize_ip("::1") == ipaddress.IPv6Address("::1").packed


@pytest.mark.parametrize("address", [None, ""])
def test_no_address_is_slot_zero(address: str | None) -> None:
    assert slot_for(address, 4) == 0


def test_garbage_address_gets_a_stable_slot() -> None:
    assert normalize_ip("not-an-ip") == b"not-an-ip"
    slots = {slot_for(f"unknown-{n}", 4) for n in range(100)}
    assert slots <= {0, 1, 2, 3}
    assert slot_for("unknown", 4) == slot_for("unknown", 4)


@pytest.mark.parametrize("slots", [0, 1])
def test_one_slot_or_fewer_is_always_slot_zero(slots: int) -> None:
    assert slot_for("10.0.0.1", slots) == 0
    assert slot_for("2001:db8::1", slots) == 0


def test_slot_table_is_fixed() -> None:
    """The slot of an address is a function of (address, slots) only: the same table in every
    process and after every restart (crc32 of the packed address, not Python's per-process
    salted hash). Pinned values: if they change, the clients of a running cluster would move."""
    pinned = {
        "127.0.0.2": [0, 1, 2],
        "127.0.0.3": [0, 2, 0],
        "10.0.0.1": [0, 0, 2],
        "::1": [1, 1, 3],
        "2001:db8::1": [0, 0, 0],
        "::ffff:127.0.0.2": [0, 1, 2],
    }
    assert {address: [slot_for(address, n) for n in (2, 3, 4)] for address in pinned} == pinned
    for address in pinned:
        assert slot_for(address, 4) == zlib.crc32(normalize_ip(address)) % 4


@pytest.mark.parametrize("slots", [2, 3, 4, 8])
def test_addresses_spread_over_every_slot(slots: int) -> None:
    v4 = collections.Counter(slot_for(f"10.0.{n // 256}.{n % 256}", slots) for n in range(2000))
    v6 = collections.Counter(slot_for(f"2001:db8::{n:x}", slots) for n in range(2000))
    for counts in (v4, v6):
        assert set(counts) == set(range(slots))
        # Roughly even: no slot gets less than half of its fair share.
        assert min(counts.values()) > 2000 / slots / 2


def test_consecutive_loopback_addresses_cover_every_slot() -> None:
    """The integration tests rely on 127.0.0.2.. reaching every worker quickly."""
    for slots in (2, 3, 4):
        seen = {slot_for(f"127.0.0.{n}", slots) for n in range(2, 40)}
        assert seen == set(range(slots))


# -- forwarded_client -----------------------------------------------------------------------------


def head(*headers: str) -> bytes:
    lines = ["GET /socket.io/?EIO=4&transport=polling HTTP/1.1", "Host: example.com", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("X-Forwarded-For: 203.0.113.7", "203.0.113.7"),
        ("X-Forwarded-For: 203.0.113.7, 198.51.100.1, 10.0.0.1", "203.0.113.7"),
        ("x-forwarded-for:203.0.113.7,10.0.0.1", "203.0.113.7"),
        ("X-FORWARDED-FOR:   203.0.113.7  ", "203.0.113.7"),
        ("X-Forwarded-For: 203.0.113.7:51234", "203.0.113.7"),
        ("X-Forwarded-For: 2001:db8::1", "2001:db8::1"),
        ("X-Forwarded-For: [2001:db8::1]:51234, 10.0.0.1", "2001:db8::1"),
        ("X-Forwarded-For: ::ffff:203.0.113.7", "::ffff:203.0.113.7"),
    ],
)
def test_x_forwarded_for(header: str, client: str) -> None:
    assert forwarded_client(head(header)) == client


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
        ("Forwarded: for=192.0.2.43, for=198.51.100.17", "192.0.2.43"),
        ('Forwarded: for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
        ('Forwarded: for="[2001:db8:cafe::17]"', "2001:db8:cafe::17"),
        ('Forwarded: for="192.0.2.60:8080"', "192.0.2.60"),
        ("Forwarded: proto=https; For=192.0.2.61", "192.0.2.61"),
        ("forwarded: by=10.0.0.1;for=192.0.2.62", "192.0.2.62"),
    ],
)
def test_forwarded(header: str, client: str) -> None:
    assert forwarded_client(head(header)) == client


def test_forwarded_obfuscated_identifier_is_kept_as_is() -> None:
    """``for=unknown`` / ``for=_hidden`` name no address: used as an opaque key (stable slot)."""
    assert forwarded_client(head("Forwarded: for=unknown")) == "unknown"
    assert forwarded_client(head('Forwarded: for="_hidden"')) == "_hidden"


def test_x_forwarded_for_wins_over_forwarded() -> None:
    both = head("Forwarded: for=192.0.2.1", "X-Forwarded-For: 198.51.100.2")
    assert forwarded_client(both) == "198.51.100.2"


def test_first_header_of_a_kind_wins() -> None:
    twice = head("X-Forwarded-For: 198.51.100.2", "X-Forwarded-For: 198.51.100.3")
    assert forwarded_client(twice) == "198.51.100.2"


@pytest.mark.parametrize(
    "headers",
    [
        (),
        ("X-Real-IP: 203.0.113.7",),
        ("Forwarded: proto=https;by=10.0.0.1",),
        ("X-Forwarded-For:",),
        ("X-Forwarded-For: , 10.0.0.1",),
        ("Forwarded: for=",),
        ('Forwarded: for=""',),
        ("this line has no colon",),
    ],
)
def test_no_client_named(headers: tuple[str, ...]) -> None:
    assert forwarded_client(head(*headers)) is None


def test_headers_in_the_body_do_not_count() -> None:
    raw = head() + b"X-Forwarded-For: 203.0.113.7\r\n\r\n"
    assert forwarded_client(raw) is None


def test_the_request_line_is_not_a_header() -> None:
    raw = b"X-Forwarded-For: 203.0.113.7\r\nHost: x\r\n\r\n"
    assert forwarded_client(raw) is None


def test_non_ascii_header_bytes_do_not_raise() -> None:
    raw = b"GET / HTTP/1.1\r\nX-Note: caf\xc3\xa9 \xff\xfe\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n"
    assert forwarded_client(raw) == "203.0.113.9"


def test_forwarded_client_and_slot_together() -> None:
    """The proxy's client address gets the slot that client would get directly."""
    client = forwarded_client(head("X-Forwarded-For: [2001:db8::5]:443"))
    assert slot_for(client, 5) == slot_for("2001:db8::5", 5)


# -- head_complete --------------------------------------------------------------------------------


def test_head_complete_needs_the_blank_line() -> None:
    full = head("X-Forwarded-For: 203.0.113.7")
    for cut in range(len(full) - 1):
        assert not head_complete(full[:cut]), cut
    assert head_complete(full)
    assert head_complete(full + b"body bytes")


def test_head_complete_on_a_lone_lf_is_not_enough() -> None:
    assert not head_complete(b"GET / HTTP/1.1\nHost: x\n\n")


def test_an_oversized_head_counts_as_complete() -> None:
    """The master gives up looking after MAX_PEEK bytes (the worker answers 431)."""
    big = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * MAX_PEEK
    assert head_complete(big[:MAX_PEEK])
    assert not head_complete(big[: MAX_PEEK - 1])
    assert forwarded_client(big[:MAX_PEEK]) is None
