"""Cross-origin requests: preflight, the Access-Control-* headers, and disallowed origins.

Node's ``cors`` middleware never refuses a request: a disallowed origin just gets no
``Access-Control-Allow-Origin`` (the browser then refuses to hand the answer to the page). We
refuse it outright with 403, on polling and, which matters more since browsers do not apply CORS
to websockets, on the websocket upgrade. The shared tests check what both do (no allow header);
the refusals are ours-only.
"""

from __future__ import annotations

import pytest

from .clients import HttpResponse, WsRefused
from .conftest import RELAXED, ServerFactory
from .helpers import (
    Server,
    assert_error,
    parse_open,
    polling_handshake,
    polling_url,
    websocket_url,
)

FOREIGN = "http://foreign.example"
ALLOWED = "http://allowed.example"

LISTED = {"cors": {"origin": [ALLOWED], "credentials": True}, **RELAXED}
NO_CREDENTIALS = {"cors": {"origin": "*", "credentials": False}, **RELAXED}


def preflight(
    server: Server, origin: str, request_headers: str | None = "content-type"
) -> HttpResponse:
    headers = [("Origin", origin), ("Access-Control-Request-Method", "POST")]
    if request_headers is not None:
        headers.append(("Access-Control-Request-Headers", request_headers))
    return server.request("OPTIONS", polling_url(server), headers)


# -- any origin (the suite's profile: "*" with credentials) ---------------------------------------


def test_polling_any_origin_reflected_with_credentials(relaxed: Server) -> None:
    response = relaxed.request("GET", polling_url(relaxed), [("Origin", FOREIGN)])
    assert response.status == 200
    parse_open(response.text)
    # "*" cannot go with credentials: the request's origin is sent back instead.
    assert response.header("access-control-allow-origin") == FOREIGN
    assert response.header("access-control-allow-credentials") == "true"
    assert "Origin" in response.header_values("vary")


def test_polling_cors_headers_on_post_and_poll(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    origin = [("Origin", FOREIGN)]
    posted = relaxed.request("POST", polling_url(relaxed, sid), origin, b"4cors")
    assert posted.body == b"ok"
    assert posted.header("access-control-allow-origin") == FOREIGN
    polled = relaxed.request("GET", polling_url(relaxed, sid), origin)
    assert polled.text == "4cors"
    assert polled.header("access-control-allow-origin") == FOREIGN
    assert polled.header("access-control-allow-credentials") == "true"


def test_polling_cors_headers_on_errors(relaxed: Server) -> None:
    response = relaxed.request("GET", polling_url(relaxed, "nope"), [("Origin", FOREIGN)])
    assert_error(response, 400, 1, "Session ID unknown")
    assert response.header("access-control-allow-origin") == FOREIGN


def test_polling_no_cors_headers_without_origin(relaxed: Server) -> None:
    response = relaxed.request("GET", polling_url(relaxed))
    assert response.status == 200
    # (Node still sends Access-Control-Allow-Credentials, which means nothing on its own.)
    assert response.header("access-control-allow-origin") is None


def test_polling_preflight(relaxed: Server) -> None:
    response = preflight(relaxed, FOREIGN, "content-type, x-custom")
    assert response.status == 204
    assert response.body == b""
    assert response.header("access-control-allow-origin") == FOREIGN
    assert response.header("access-control-allow-credentials") == "true"
    methods = response.header_values("access-control-allow-methods")
    assert {"GET", "POST"} <= set(methods)
    allowed = response.header_values("access-control-allow-headers")
    assert [h.lower() for h in allowed] == ["content-type", "x-custom"]


def test_polling_preflight_without_requested_headers(relaxed: Server) -> None:
    response = preflight(relaxed, FOREIGN, None)
    assert response.status == 204
    assert response.header("access-control-allow-origin") == FOREIGN


def test_polling_preflight_for_session(relaxed: Server) -> None:
    """Browsers preflight the POSTs of a session too."""
    sid = polling_handshake(relaxed)
    headers = [("Origin", FOREIGN), ("Access-Control-Request-Method", "POST")]
    response = relaxed.request("OPTIONS", polling_url(relaxed, sid), headers)
    assert response.status == 204
    assert response.header("access-control-allow-origin") == FOREIGN
    # ...and the preflight leaves the session alone.
    assert relaxed.request("POST", polling_url(relaxed, sid), body=b"4x").body == b"ok"


def test_websocket_any_origin(relaxed: Server) -> None:
    with relaxed.websocket(websocket_url(relaxed), [("Origin", FOREIGN)]) as ws:
        parse_open(ws.recv_text())


def test_polling_any_origin_without_credentials(server_factory: ServerFactory) -> None:
    server = server_factory(**NO_CREDENTIALS)
    response = server.request("GET", polling_url(server), [("Origin", FOREIGN)])
    assert response.status == 200
    assert response.header("access-control-allow-origin") == "*"
    assert response.header("access-control-allow-credentials") is None


# -- a list of origins ----------------------------------------------------------------------------


def test_polling_listed_origin_allowed(server_factory: ServerFactory) -> None:
    server = server_factory(**LISTED)
    response = server.request("GET", polling_url(server), [("Origin", ALLOWED)])
    assert response.status == 200
    parse_open(response.text)
    assert response.header("access-control-allow-origin") == ALLOWED
    assert response.header("access-control-allow-credentials") == "true"
    assert "Origin" in response.header_values("vary")


def test_polling_listed_origin_preflight(server_factory: ServerFactory) -> None:
    server = server_factory(**LISTED)
    response = preflight(server, ALLOWED)
    assert response.status == 204
    assert response.header("access-control-allow-origin") == ALLOWED


def test_websocket_listed_origin_allowed(server_factory: ServerFactory) -> None:
    server = server_factory(**LISTED)
    with server.websocket(websocket_url(server), [("Origin", ALLOWED)]) as ws:
        parse_open(ws.recv_text())


def test_polling_unlisted_origin_gets_no_allow_header(server_factory: ServerFactory) -> None:
    """What both servers do: no Access-Control-Allow-Origin for an origin not on the list."""
    server = server_factory(**LISTED)
    response = server.request("GET", polling_url(server), [("Origin", FOREIGN)])
    assert response.header("access-control-allow-origin") is None


def test_polling_unlisted_origin_preflight_gets_no_allow_header(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(**LISTED)
    response = preflight(server, FOREIGN)
    assert response.header("access-control-allow-origin") is None


@pytest.mark.ours_only(reason="Node's cors middleware adds headers but never refuses a request")
def test_polling_unlisted_origin_refused(server_factory: ServerFactory) -> None:
    server = server_factory(**LISTED)
    response = server.request("GET", polling_url(server), [("Origin", FOREIGN)])
    assert_error(response, 403, 4, "Origin not allowed")
    assert preflight(server, FOREIGN).status == 403


@pytest.mark.ours_only(
    reason="Node accepts a websocket from any origin (browsers apply no CORS to websockets, so "
    "this is where a server must refuse)"
)
def test_websocket_unlisted_origin_refused(server_factory: ServerFactory) -> None:
    server = server_factory(**LISTED)
    with pytest.raises(WsRefused) as info:
        server.websocket(websocket_url(server), [("Origin", FOREIGN)])
    assert info.value.status == 403
    assert b"Origin not allowed" in info.value.body


@pytest.mark.ours_only(reason="Node refuses no origin, so 'same origin is fine' is moot there")
def test_same_origin_allowed_without_listing(server_factory: ServerFactory) -> None:
    server = server_factory(**LISTED)
    response = server.request("GET", polling_url(server), [("Origin", server.origin)])
    assert response.status == 200
    with server.websocket(websocket_url(server), [("Origin", server.origin)]) as ws:
        parse_open(ws.recv_text())
