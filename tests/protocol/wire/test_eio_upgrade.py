"""Upgrading a polling session to websocket: probe, noop, upgrade, and every way it can fail."""

from __future__ import annotations

import pytest

from .clients import ConnectionClosedError, WsClient, WsRefused
from .conftest import RELAXED, ServerFactory
from .helpers import (
    SEP,
    Server,
    assert_error,
    park_poll,
    poll,
    polling_handshake,
    polling_url,
    post,
    upgrade,
    wait_websocket_session_gone,
    websocket_url,
)


def assert_candidate_refused(server: Server, sid: str) -> None:
    """A websocket for ``sid`` is not taken: refused, or accepted and closed without a packet."""
    try:
        ws = server.websocket(websocket_url(server, sid))
    except (WsRefused, ConnectionClosedError):
        return
    with ws:
        closed = ws.wait_closed(timeout=2)
        assert closed.messages == [], closed


def test_upgrade(relaxed: Server) -> None:
    """The official suite's sequence: probe, a GET released with noop, upgrade, then messages."""
    sid = polling_handshake(relaxed)
    with relaxed.websocket(websocket_url(relaxed, sid)) as ws:
        ws.send_text("2probe")
        assert ws.recv() == "3probe"
        response = poll(relaxed, sid)
        assert response.status == 200
        assert response.text == "6"
        ws.send_text("5")
        ws.send_text("4hello")
        assert ws.recv() == "4hello"
        ws.send_binary(b"\x01\x02")
        assert ws.recv() == b"\x01\x02"


def test_upgrade_releases_parked_get_with_noop(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    with park_poll(relaxed, sid) as parked, relaxed.websocket(websocket_url(relaxed, sid)) as ws:
        ws.send_text("2probe")
        assert ws.recv() == "3probe"
        released = parked.get_response(timeout=2)
        assert released.status == 200
        assert released.text == "6"
        ws.send_text("5")
        ws.send_text("4after")
        assert ws.recv() == "4after"


def test_upgrade_flushes_queued_packets_over_websocket(relaxed: Server) -> None:
    """What waited for a GET leaves over the websocket once the upgrade is done, in order."""
    sid = polling_handshake(relaxed)
    assert post(relaxed, sid, f"4one{SEP}4two{SEP}bAQI=").status == 200
    with upgrade(relaxed, sid) as ws:
        assert ws.recv() == "4one"
        assert ws.recv() == "4two"
        assert ws.recv() == b"\x01\x02"
        ws.send_text("4three")
        assert ws.recv() == "4three"


def test_upgrade_polling_refused_afterwards(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    with upgrade(relaxed, sid) as ws:
        ws.send_text("4sync")
        assert ws.recv() == "4sync"
        assert_error(poll(relaxed, sid), 400, 3, "Bad request")
        assert_error(post(relaxed, sid, "4x"), 400, 3, "Bad request")
        ws.send_text("4still")
        assert ws.recv() == "4still"


def test_upgrade_second_websocket_refused_after_upgrade(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    with upgrade(relaxed, sid) as ws:
        ws.send_text("4sync")
        assert ws.recv() == "4sync"
        assert_candidate_refused(relaxed, sid)
        ws.send_text("4hello")
        assert ws.recv() == "4hello"


def test_upgrade_second_websocket_refused_during_upgrade(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    with relaxed.websocket(websocket_url(relaxed, sid)) as ws:
        ws.send_text("2probe")
        assert ws.recv() == "3probe"
        assert_candidate_refused(relaxed, sid)
        ws.send_text("5")
        ws.send_text("4hello")
        assert ws.recv() == "4hello"


def test_upgrade_session_closes_with_its_websocket(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    ws = upgrade(relaxed, sid)
    ws.send_text("4sync")
    assert ws.recv() == "4sync"
    ws.close()
    wait_websocket_session_gone(relaxed, sid)


@pytest.mark.parametrize(
    "packet",
    ["4hello", "2", "3probe", "abc", b"\x01"],
    ids=["message", "ping", "pong", "bad", "bin"],
)
def test_upgrade_aborted_by_other_packet(relaxed: Server, packet: str | bytes) -> None:
    """Anything but ``2probe`` then ``5`` on the candidate: it is closed, polling goes on."""
    sid = polling_handshake(relaxed)
    with relaxed.websocket(websocket_url(relaxed, sid)) as ws:
        if isinstance(packet, str):
            ws.send_text(packet)
        else:
            ws.send_binary(packet)
        closed = ws.wait_closed(timeout=2)
        assert closed.messages == []
    assert post(relaxed, sid, "4polling").status == 200
    assert poll(relaxed, sid).text == "4polling"


def test_upgrade_aborted_after_probe(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    with relaxed.websocket(websocket_url(relaxed, sid)) as ws:
        ws.send_text("2probe")
        assert ws.recv() == "3probe"
        ws.send_text("4not-yet")
        closed = ws.wait_closed(timeout=2)
        assert closed.messages == []
    assert post(relaxed, sid, "4polling").status == 200
    assert poll(relaxed, sid).text == "4polling"


def test_upgrade_candidate_closed_by_client(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    ws = relaxed.websocket(websocket_url(relaxed, sid))
    ws.send_text("2probe")
    assert ws.recv() == "3probe"
    ws.close()
    assert post(relaxed, sid, "4polling").status == 200
    assert poll(relaxed, sid).text == "4polling"
    # The session can try again.
    with upgrade(relaxed, sid) as again:
        again.send_text("4ws")
        assert again.recv() == "4ws"


@pytest.mark.parametrize("probe", [False, True], ids=["silent", "probed"])
def test_upgrade_timeout(server_factory: ServerFactory, probe: bool) -> None:
    """A candidate that does not finish within upgradeTimeout is closed; polling goes on."""
    server = server_factory(upgradeTimeout=200, **RELAXED)
    sid = polling_handshake(server)
    with server.websocket(websocket_url(server, sid)) as ws:
        if probe:
            ws.send_text("2probe")
            assert ws.recv() == "3probe"
        closed = ws.wait_closed(timeout=2)
        assert closed.messages == []
    assert post(server, sid, "4polling").status == 200
    assert poll(server, sid).text == "4polling"


def test_upgrade_heartbeat_moves_to_websocket(server: Server) -> None:
    """After the upgrade the pings come over the websocket."""
    sid = polling_handshake(server)
    with upgrade(server, sid) as ws:
        for _ in range(2):
            assert ws.recv(timeout=2) == "2"
            ws.send_text("3")


def test_upgrade_unknown_sid(relaxed: Server) -> None:
    assert_candidate_refused(relaxed, "nope")


def test_upgrade_of_closed_session(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    assert post(relaxed, sid, "1").status == 200
    assert_candidate_refused(relaxed, sid)


@pytest.mark.ours_only(
    reason="Node takes a second websocket on a websocket session as an upgrade candidate (it "
    "only refuses once a session was upgraded); the spec says to close it"
)
def test_upgrade_websocket_only_session_is_not_upgradable(relaxed: Server) -> None:
    """A second websocket naming a websocket-only session is closed (spec: one per session)."""
    ws = WsClient.connect(relaxed.address, websocket_url(relaxed))
    with ws:
        sid = ws.recv_text()[1:].split('"sid":"', 1)[1].split('"', 1)[0]
        assert_candidate_refused(relaxed, sid)
        ws.send_text("4still")
        assert ws.recv() == "4still"


def test_upgrade_polling_get_during_probe_gets_noop(relaxed: Server) -> None:
    """While the upgrade is pending, polls are released with noop rather than parked."""
    sid = polling_handshake(relaxed)
    with relaxed.websocket(websocket_url(relaxed, sid)) as ws:
        ws.send_text("2probe")
        assert ws.recv() == "3probe"
        for _ in range(2):
            assert poll(relaxed, sid).text == "6"
        ws.send_text("5")
        ws.send_text("4done")
        assert ws.recv() == "4done"
    with relaxed.http() as client:
        assert client.request("GET", polling_url(relaxed, sid)).status == 400
