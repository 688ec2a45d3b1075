"""Engine.IO requests: the query string and the checks the reference server makes, in its order.

``classify_request`` looks only at the request; ``check_session_request`` adds the checks that need
the session the ``sid`` names. Both raise ``RequestError`` carrying the reply (status + JSON code).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl

from ..errors import ErrorCode, RequestError

__all__ = [
    "EngineRequest",
    "TransportName",
    "check_session_request",
    "classify_request",
    "parse_query",
]


class TransportName(StrEnum):
    POLLING = "polling"
    WEBSOCKET = "websocket"


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """What the server needs to know of a request to the Engine.IO path."""

    method: str
    transport: TransportName
    sid: str | None
    is_upgrade: bool
    query: dict[str, str]


def parse_query(query_string: str) -> dict[str, str]:
    """Parse a query string; a repeated key keeps its last value, as ``URLSearchParams`` does."""
    return dict(parse_qsl(query_string, keep_blank_values=True))


def classify_request(
    method: str,
    query: dict[str, str],
    is_upgrade: bool,
    transports: tuple[TransportName, ...] = (TransportName.POLLING, TransportName.WEBSOCKET),
) -> EngineRequest:
    """Check a request the way the reference server does, in the same order.

    Raises:
        RequestError: code 0 for an unknown or disabled transport, 2 for a handshake that is not
            a GET, 3 for a websocket handshake without an Upgrade header, 5 for any ``EIO`` but 4.
    """
    try:
        transport = TransportName(query.get("transport", ""))
    except ValueError:
        raise RequestError(ErrorCode.UNKNOWN_TRANSPORT) from None
    if transport not in transports:
        raise RequestError(ErrorCode.UNKNOWN_TRANSPORT)
    sid = query.get("sid") or None
    if sid is None:
        if method != "GET":
            raise RequestError(ErrorCode.BAD_HANDSHAKE_METHOD)
        if transport is TransportName.WEBSOCKET and not is_upgrade:
            raise RequestError(ErrorCode.BAD_REQUEST)
    if query.get("EIO") != "4":
        raise RequestError(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION)
    if is_upgrade and transport is not TransportName.WEBSOCKET:
        raise RequestError(ErrorCode.BAD_REQUEST)
    return EngineRequest(method, transport, sid, is_upgrade, query)


def check_session_request(request: EngineRequest, session_transport: TransportName | None) -> None:
    """Check a request that names a session (``sid``) against that session's transport.

    Args:
        session_transport: the transport of the session, ``None`` if there is no such session.

    Raises:
        RequestError: code 1 for an unknown session, 3 for a plain request on a transport the
            session does not use (for example a polling request after the upgrade to websocket)
            and for a plain (not upgrade) request that names the websocket transport: a websocket
            session takes no HTTP requests.
    """
    if session_transport is None:
        raise RequestError(ErrorCode.UNKNOWN_SID)
    if request.is_upgrade:
        return
    if request.transport is not session_transport or request.transport is TransportName.WEBSOCKET:
        raise RequestError(ErrorCode.BAD_REQUEST)
