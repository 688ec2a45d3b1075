"""Cross-origin rules: who may talk to the server, and the headers that tell the browser so."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from eio.protocol.cors import ALLOWED_METHODS, CorsPolicy

Origins = str | Sequence[str] | Callable[[str], bool] | None


def _only_example(origin: str) -> bool:
    return origin.endswith(".example.com")


# (id, origins policy, Origin header, Host header, allowed?)
ALLOWS_CASES: list[tuple[str, Origins, str | None, str | None, bool]] = [
    # No Origin header: not a cross-origin request (curl, native clients, same-origin GETs).
    ("no-origin-same-only", None, None, "example.com", True),
    ("no-origin-list", ["https://a.com"], None, None, True),
    # Same origin only (the default).
    ("same-origin", None, "http://example.com", "example.com", True),
    ("same-origin-port", None, "http://example.com:8080", "example.com:8080", True),
    ("same-origin-case", None, "http://EXAMPLE.com", "example.COM", True),
    ("same-origin-http-default-port", None, "http://example.com:80", "example.com", True),
    ("same-origin-host-has-default-port", None, "http://example.com", "example.com:80", True),
    ("same-origin-https-default-port", None, "https://example.com:443", "example.com", True),
    ("same-origin-ipv6", None, "http://[::1]:3000", "[::1]:3000", True),
    ("other-host", None, "http://evil.com", "example.com", False),
    ("other-port", None, "http://example.com:8081", "example.com:8080", False),
    ("https-port-80-is-not-default", None, "https://example.com", "example.com:80", False),
    ("http-port-443-is-not-default", None, "http://example.com", "example.com:443", False),
    ("no-host", None, "http://example.com", None, False),
    ("null-origin", None, "null", "example.com", False),
    ("non-http-scheme", None, "file://example.com", "example.com", False),
    ("ws-scheme", None, "ws://example.com", "example.com", False),
    ("no-netloc", None, "http:", "example.com", False),
    ("unparsable", None, "http://[::1", "[::1", False),
    # Any origin.
    ("star", "*", "http://evil.com", "example.com", True),
    ("star-no-host", "*", "null", None, True),
    # One origin, as a string.
    ("one", "https://app.com", "https://app.com", "api.com", True),
    ("one-trailing-slash-config", "https://app.com/", "https://app.com", "api.com", True),
    ("one-trailing-slash-origin", "https://app.com", "https://app.com/", "api.com", True),
    ("one-other", "https://app.com", "https://evil.com", "api.com", False),
    ("one-scheme-matters", "https://app.com", "http://app.com", "api.com", False),
    ("one-still-allows-same-origin", "https://app.com", "http://api.com", "api.com", True),
    # A list.
    ("list-first", ["https://a.com", "https://b.com"], "https://a.com", "api.com", True),
    ("list-second", ("https://a.com", "https://b.com"), "https://b.com", "api.com", True),
    ("list-other", ["https://a.com", "https://b.com"], "https://c.com", "api.com", False),
    ("list-star-is-literal", ["*"], "https://c.com", "api.com", False),
    ("empty-list-same-origin", [], "http://api.com", "api.com", True),
    ("empty-list-other", [], "http://c.com", "api.com", False),
    # A predicate decides alone (not even same origin is implied).
    ("predicate-yes", _only_example, "https://app.example.com", "api.com", True),
    ("predicate-no", _only_example, "https://evil.com", "api.com", False),
    ("predicate-no-same-origin", _only_example, "http://api.com", "api.com", False),
    ("predicate-no-origin", _only_example, None, "api.com", True),
]


@pytest.mark.parametrize(
    ("origins", "origin", "host", "allowed"),
    [c[1:] for c in ALLOWS_CASES],
    ids=[c[0] for c in ALLOWS_CASES],
)
def test_eio_cors_allows(
    origins: Origins, origin: str | None, host: str | None, allowed: bool
) -> None:
    assert CorsPolicy(origins).allows(origin, host) is allowed


def test_eio_cors_predicate_result_is_made_a_bool() -> None:
    policy = CorsPolicy(lambda origin: origin)  # type: ignore[arg-type, return-value]
    assert policy.allows("https://a.com", None) is True


# (id, origins, credentials, Origin header, expected headers)
HEADER_CASES: list[tuple[str, Origins, bool, str | None, list[tuple[str, str]]]] = [
    ("no-origin", "*", True, None, []),
    ("no-origin-list", ["https://a.com"], False, None, []),
    ("star-no-credentials", "*", False, "https://a.com", [("access-control-allow-origin", "*")]),
    (
        "star-credentials-echoes-origin",
        "*",
        True,
        "https://a.com",
        [
            ("access-control-allow-origin", "https://a.com"),
            ("vary", "Origin"),
            ("access-control-allow-credentials", "true"),
        ],
    ),
    (
        "list-credentials",
        ["https://a.com"],
        True,
        "https://a.com",
        [
            ("access-control-allow-origin", "https://a.com"),
            ("vary", "Origin"),
            ("access-control-allow-credentials", "true"),
        ],
    ),
    (
        "list-no-credentials",
        ["https://a.com"],
        False,
        "https://a.com",
        [("access-control-allow-origin", "https://a.com"), ("vary", "Origin")],
    ),
]


@pytest.mark.parametrize(
    ("origins", "credentials", "origin", "expected"),
    [c[1:] for c in HEADER_CASES],
    ids=[c[0] for c in HEADER_CASES],
)
def test_eio_cors_headers(
    origins: Origins, credentials: bool, origin: str | None, expected: list[tuple[str, str]]
) -> None:
    assert CorsPolicy(origins, credentials).headers(origin) == expected


def test_eio_cors_credentials_default_on() -> None:
    headers = CorsPolicy("*").headers("https://a.com")
    assert ("access-control-allow-credentials", "true") in headers


def test_eio_cors_preflight_adds_methods() -> None:
    headers = CorsPolicy("*", credentials=False).preflight_headers("https://a.com", None)
    assert headers == [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "GET,HEAD,PUT,PATCH,POST,DELETE"),
    ]
    assert ALLOWED_METHODS == "GET,HEAD,PUT,PATCH,POST,DELETE"


def test_eio_cors_preflight_echoes_requested_headers() -> None:
    headers = CorsPolicy(["https://a.com"]).preflight_headers(
        "https://a.com", "content-type, x-token"
    )
    assert headers == [
        ("access-control-allow-origin", "https://a.com"),
        ("vary", "Origin"),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", ALLOWED_METHODS),
        ("access-control-allow-headers", "content-type, x-token"),
        ("vary", "Access-Control-Request-Headers"),
    ]


@pytest.mark.parametrize("requested", [None, ""], ids=["absent", "empty"])
def test_eio_cors_preflight_without_requested_headers(requested: str | None) -> None:
    headers = CorsPolicy("*").preflight_headers("https://a.com", requested)
    assert [name for name, _ in headers if name.startswith("access-control-allow-headers")] == []


def test_eio_cors_preflight_without_origin_still_lists_methods() -> None:
    assert CorsPolicy(None).preflight_headers(None, None) == [
        ("access-control-allow-methods", ALLOWED_METHODS)
    ]


def test_eio_cors_headers_are_fresh_lists() -> None:
    policy = CorsPolicy(["https://a.com"])
    policy.preflight_headers("https://a.com", "x")
    assert policy.headers("https://a.com") == [
        ("access-control-allow-origin", "https://a.com"),
        ("vary", "Origin"),
        ("access-control-allow-credentials", "true"),
    ]
