"""Opening a session, and every way the server refuses a request (status + JSON error code)."""

from __future__ import annotations

import re

import pytest

from .clients import ConnectionClosedError, WsClient, WsClosed, WsRefused
from .conftest import ServerFactory
from .helpers import (
    TEXT_PLAIN,
    Server,
    assert_error,
    expected_open,
    parse_open,
    polling_handshake,
    polling_url,
    url,
    websocket_url,
)

SID_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def assert_websocket_refused(server: Server, target: str, message: str | None = None) -> None:
    """No session over this websocket request.

    Both servers refuse before the 101 with status 400 when the request itself is bad; our body
    is the JSON error and Node's the bare message, so only the message is compared. Some checks
    Node makes only after the 101 (the protocol version, a transport that cannot take a
    websocket): then the connection ends without an OPEN packet.
    """
    try:
        ws = server.websocket(target)
    except WsRefused as refused:
        assert refused.status == 400, refused
        if message is not None:
            assert message.encode() in refused.body, refused
        return
    except ConnectionClosedError:
        return
    with ws:
        closed = ws.wait_closed(timeout=5)
        assert not any(isinstance(m, str) and m.startswith("0") for m in closed.messages), closed


# -- successful handshakes ------------------------------------------------------------------------


def test_polling_handshake(server: Server) -> None:
    response = server.request("GET", polling_url(server))
    assert response.status == 200
    assert response.header("content-type") == TEXT_PLAIN
    assert response.header("cache-control") == "no-store"
    value = parse_open(response.text)
    assert list(value) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    sid = value["sid"]
    assert isinstance(sid, str) and SID_RE.match(sid), sid
    # Exactly the reference server's bytes: compact JSON, this key order, the suite's numbers.
    assert response.text == expected_open(server, sid, ["websocket"])
    assert value["pingInterval"] == 300
    assert value["pingTimeout"] == 200
    assert value["maxPayload"] == 1_000_000


def test_websocket_handshake(server: Server) -> None:
    with server.websocket(websocket_url(server)) as ws:
        packet = ws.recv_text()
        value = parse_open(packet)
        sid = value["sid"]
        assert isinstance(sid, str) and SID_RE.match(sid), sid
        assert packet == expected_open(server, sid, [])


def test_polling_handshakes_get_distinct_sids(server: Server) -> None:
    sids = {polling_handshake(server) for _ in range(5)}
    assert len(sids) == 5


def test_polling_handshake_on_keep_alive_connection(server: Server) -> None:
    """Several requests on one connection, each answered in turn."""
    with server.http() as client:
        first = parse_open(client.request("GET", polling_url(server)).text)["sid"]
        second = parse_open(client.request("GET", polling_url(server)).text)["sid"]
    assert first != second


def test_polling_handshake_ignores_extra_query(server: Server) -> None:
    response = server.request("GET", polling_url(server, t="NabcD1", b64="1"))
    assert response.status == 200
    parse_open(response.text)


def test_handshake_upgrades_empty_without_upgrades(server_factory: ServerFactory) -> None:
    server = server_factory(allowUpgrades=False)
    response = server.request("GET", polling_url(server))
    sid = parse_open(response.text)["sid"]
    assert response.text == expected_open(server, sid, [])


def test_handshake_reports_configured_numbers(server_factory: ServerFactory) -> None:
    server = server_factory(pingInterval=1234, pingTimeout=567, maxHttpBufferSize=4321)
    response = server.request("GET", polling_url(server))
    sid = parse_open(response.text)["sid"]
    assert response.text == expected_open(server, sid, ["websocket"])
    assert '"pingInterval":1234,"pingTimeout":567,"maxPayload":4321' in response.text


# -- code 0: Transport unknown --------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [{}, {"transport": "abc"}, {"transport": ""}, {"transport": "webtransport"}],
    ids=["missing", "abc", "empty", "webtransport"],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_polling_unknown_transport(server: Server, query: dict[str, str], method: str) -> None:
    response = server.request(method, url(server, **query), body=b"" if method == "POST" else None)
    assert_error(response, 400, 0, "Transport unknown")


def test_transport_disabled_is_unknown(server_factory: ServerFactory) -> None:
    server = server_factory(transports=["websocket"])
    assert_error(server.request("GET", polling_url(server)), 400, 0, "Transport unknown")


@pytest.mark.parametrize("query", [{}, {"transport": "abc"}], ids=["missing", "abc"])
def test_websocket_unknown_transport(server: Server, query: dict[str, str]) -> None:
    assert_websocket_refused(server, url(server, **query), "Transport unknown")


# -- code 1: Session ID unknown -------------------------------------------------------------------


def test_polling_get_unknown_sid(server: Server) -> None:
    assert_error(server.request("GET", polling_url(server, "nope")), 400, 1, "Session ID unknown")


def test_polling_post_unknown_sid(server: Server) -> None:
    response = server.request("POST", polling_url(server, "nope"), body=b"4hello")
    assert_error(response, 400, 1, "Session ID unknown")


def test_websocket_unknown_sid(server: Server) -> None:
    assert_websocket_refused(server, websocket_url(server, "nope"), "Session ID unknown")


def test_polling_unknown_sid_with_bad_version(server: Server) -> None:
    """Refused either way. Node checks the version only on handshakes (so: code 1); we check it
    on every request, as the spec makes ``EIO`` mandatory on all of them (so: code 5)."""
    response = server.request("GET", polling_url(server, "nope", EIO="3"))
    assert response.status == 400
    assert response.json()["code"] in (1, 5)


# -- code 2: Bad handshake method -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_polling_bad_handshake_method(server: Server, method: str) -> None:
    response = server.request(method, polling_url(server), body=b"")
    assert_error(response, 400, 2, "Bad handshake method")


# -- code 3: Bad request --------------------------------------------------------------------------


def test_websocket_transport_without_upgrade(server: Server) -> None:
    """A plain GET asking for the websocket transport."""
    response = server.request("GET", websocket_url(server))
    assert_error(response, 400, 3, "Bad request")


def test_polling_request_after_upgrade(server: Server) -> None:
    sid = polling_handshake(server)
    ws = server.websocket(websocket_url(server, sid))
    with ws:
        ws.send_text("2probe")
        assert ws.recv_text() == "3probe"
        ws.send_text("5")
        ws.send_text("4sync")  # answered only once the upgrade is done
        assert ws.recv_text() == "4sync"
        assert_error(server.request("GET", polling_url(server, sid)), 400, 3, "Bad request")
        response = server.request("POST", polling_url(server, sid), body=b"4late")
        assert_error(response, 400, 3, "Bad request")


def test_websocket_upgrade_header_on_polling_transport(server: Server) -> None:
    """A websocket handshake that names the polling transport opens no session."""
    assert_websocket_refused(server, polling_url(server))


# -- code 4: Forbidden (allowRequest) -------------------------------------------------------------

DENY = {"allowRequest": {"denyHeader": "x-deny", "message": "denied"}}


def test_polling_allow_request_refuses(server_factory: ServerFactory) -> None:
    server = server_factory(**DENY)
    response = server.request("GET", polling_url(server), [("X-Deny", "1")])
    assert_error(response, 403, 4, "denied")


def test_polling_allow_request_accepts(server_factory: ServerFactory) -> None:
    server = server_factory(**DENY)
    response = server.request("GET", polling_url(server))
    assert response.status == 200
    parse_open(response.text)


def test_websocket_allow_request_refuses(server_factory: ServerFactory) -> None:
    """Refused before the 101. Node's upgrade path answers every refusal with 400 and the bare
    message, ours with 403 and the JSON error: both carry the message."""
    server = server_factory(**DENY)
    with pytest.raises(WsRefused) as info:
        server.websocket(websocket_url(server), [("X-Deny", "1")])
    assert info.value.status in (400, 403)
    assert b"denied" in info.value.body


def test_websocket_allow_request_accepts(server_factory: ServerFactory) -> None:
    server = server_factory(**DENY)
    with server.websocket(websocket_url(server)) as ws:
        parse_open(ws.recv_text())


# -- code 5: Unsupported protocol version ---------------------------------------------------------


@pytest.mark.parametrize(
    "eio", [None, "3", "abc", "5", ""], ids=["missing", "3", "abc", "5", "empty"]
)
def test_polling_unsupported_protocol_version(server: Server, eio: str | None) -> None:
    response = server.request("GET", url(server, transport="polling", EIO=eio))  # type: ignore[arg-type]
    assert_error(response, 400, 5, "Unsupported protocol version")


@pytest.mark.parametrize("eio", [None, "3", "abc"], ids=["missing", "3", "abc"])
def test_websocket_unsupported_protocol_version(server: Server, eio: str | None) -> None:
    target = url(server, transport="websocket", EIO=eio)  # type: ignore[arg-type]
    assert_websocket_refused(server, target)


def test_polling_bad_method_checked_before_version(server: Server) -> None:
    response = server.request("POST", url(server, transport="polling", EIO="3"), body=b"")
    assert_error(response, 400, 2, "Bad handshake method")


def test_polling_unknown_transport_checked_before_version(server: Server) -> None:
    response = server.request("GET", url(server, transport="abc", EIO="3"))
    assert_error(response, 400, 0, "Transport unknown")


# -- outside the Engine.IO path -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/other", "/engine.iox/?EIO=4&transport=polling"])
def test_plain_route_is_404(server: Server, path: str) -> None:
    assert server.request("GET", path).status == 404


def test_websocket_outside_path_is_not_accepted(server: Server) -> None:
    """Node ends such a connection after a second without answering; we answer 404."""
    try:
        ws = WsClient.connect(server.address, "/other", timeout=5)
    except WsRefused as refused:
        assert refused.status == 404
    except ConnectionClosedError:
        pass
    else:
        ws.close()
        pytest.fail("a websocket outside the Engine.IO path was accepted")


def test_custom_path(server_factory: ServerFactory) -> None:
    server = server_factory(path="/custom/")
    response = server.request("GET", "/custom/?EIO=4&transport=polling")
    assert response.status == 200
    parse_open(response.text)
    assert server.request("GET", "/engine.io/?EIO=4&transport=polling").status == 404
    with server.websocket("/custom/?EIO=4&transport=websocket") as ws:
        parse_open(ws.recv_text())


def test_websocket_closed_on_client_close(server: Server) -> None:
    with server.websocket(websocket_url(server)) as ws:
        parse_open(ws.recv_text())
        ws.send_text("1")
        closed = ws.wait_closed(timeout=2)
        assert isinstance(closed, WsClosed)
