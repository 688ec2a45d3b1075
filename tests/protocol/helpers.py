"""Shared pieces of the sans-IO tests: a session factory on a fake clock (plain floats)."""

from __future__ import annotations

from eio.protocol.packet import Packet, decode_packet
from eio.protocol.request import TransportName
from eio.protocol.session import Session, SessionClosed

#: The fake clock starts here; any float works, a non-zero one catches "now" mistaken for 0.
T0 = 1000.0
PING_INTERVAL = 25.0
PING_TIMEOUT = 20.0
UPGRADE_TIMEOUT = 10.0
CLOSE_TIMEOUT = 30.0

POLLING = TransportName.POLLING
WEBSOCKET = TransportName.WEBSOCKET


def make_session(transport: TransportName = POLLING, now: float = T0) -> Session:
    """A fresh open session with the timings above."""
    return Session(
        "sid-1",
        transport,
        now=now,
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        upgrade_timeout=UPGRADE_TIMEOUT,
        close_timeout=CLOSE_TIMEOUT,
    )


def pkt(encoded: str | bytes) -> Packet:
    """The packet a client frame or payload element decodes to (``"4hi"``, ``"2probe"``)."""
    return decode_packet(encoded)


def closed_events(results: list[object]) -> list[SessionClosed]:
    """The ``SessionClosed`` events among return values (single events, lists of events, None)."""
    found: list[SessionClosed] = []
    for result in results:
        items = result if isinstance(result, list) else [result]
        found.extend(item for item in items if isinstance(item, SessionClosed))
    return found
