"""Engine.IO requests: the query string, the reference server's checks in its order, the replies."""

from __future__ import annotations

import json

import pytest

from eio.errors import ERROR_MESSAGES, ErrorCode, RemoteProtocolError, RequestError
from eio.protocol.request import (
    EngineRequest,
    TransportName,
    check_session_request,
    classify_request,
    parse_query,
)

POLLING = TransportName.POLLING
WEBSOCKET = TransportName.WEBSOCKET
BOTH = (POLLING, WEBSOCKET)

# -- parse_query ----------------------------------------------------------------------------------

QUERY_CASES = [
    ("empty", "", {}),
    ("handshake", "EIO=4&transport=polling", {"EIO": "4", "transport": "polling"}),
    (
        "cache-buster",
        "EIO=4&transport=polling&t=OwQ1a2b&sid=abc",
        {"EIO": "4", "transport": "polling", "t": "OwQ1a2b", "sid": "abc"},
    ),
    ("repeated-key-keeps-last", "EIO=3&EIO=4&EIO=5", {"EIO": "5"}),
    ("blank-value-kept", "sid=&EIO=4", {"sid": "", "EIO": "4"}),
    ("key-without-value", "b64&EIO=4", {"b64": "", "EIO": "4"}),
    ("percent-decoded", "sid=a%2Bb%2F%3D", {"sid": "a+b/="}),
    ("plus-is-space", "name=a+b", {"name": "a b"}),
    ("utf8-percent", "name=%E2%82%AC", {"name": "€"}),
    ("bad-utf8-percent-replaced", "sid=%FF", {"sid": "\ufffd"}),
    ("semicolon-is-not-a-separator", "EIO=4;transport=polling", {"EIO": "4;transport=polling"}),
]


@pytest.mark.parametrize(
    ("query_string", "expected"), [c[1:] for c in QUERY_CASES], ids=[c[0] for c in QUERY_CASES]
)
def test_eio_request_parse_query(query_string: str, expected: dict[str, str]) -> None:
    assert parse_query(query_string) == expected


# -- classify_request: refusals, in the reference server's order ----------------------------------

# (id, method, query string, is_upgrade, enabled transports, expected error code)
REFUSALS: list[tuple[str, str, str, bool, tuple[TransportName, ...], ErrorCode]] = [
    # 0: the transport is checked first, before anything else is looked at.
    ("no-transport", "GET", "EIO=4", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    ("no-transport-no-eio", "GET", "", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    ("empty-transport", "GET", "EIO=4&transport=", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    ("unknown-transport", "GET", "EIO=4&transport=abc", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    ("transport-case", "GET", "EIO=4&transport=Polling", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    (
        "webtransport",
        "GET",
        "EIO=4&transport=webtransport",
        False,
        BOTH,
        ErrorCode.UNKNOWN_TRANSPORT,
    ),
    (
        "unknown-transport-before-eio",
        "GET",
        "EIO=3&transport=abc",
        False,
        BOTH,
        ErrorCode.UNKNOWN_TRANSPORT,
    ),
    (
        "unknown-transport-before-method",
        "POST",
        "transport=abc",
        False,
        BOTH,
        ErrorCode.UNKNOWN_TRANSPORT,
    ),
    (
        "polling-disabled",
        "GET",
        "EIO=4&transport=polling",
        False,
        (WEBSOCKET,),
        ErrorCode.UNKNOWN_TRANSPORT,
    ),
    (
        "websocket-disabled",
        "GET",
        "EIO=4&transport=websocket",
        True,
        (POLLING,),
        ErrorCode.UNKNOWN_TRANSPORT,
    ),
    (
        "repeated-transport-last-unknown",
        "GET",
        "EIO=4&transport=polling&transport=abc",
        False,
        BOTH,
        ErrorCode.UNKNOWN_TRANSPORT,
    ),
    # 2: a handshake (no sid) must be a GET; checked before the version.
    (
        "post-handshake",
        "POST",
        "EIO=4&transport=polling",
        False,
        BOTH,
        ErrorCode.BAD_HANDSHAKE_METHOD,
    ),
    (
        "post-handshake-before-eio",
        "POST",
        "EIO=3&transport=polling",
        False,
        BOTH,
        ErrorCode.BAD_HANDSHAKE_METHOD,
    ),
    (
        "post-empty-sid",
        "POST",
        "EIO=4&transport=polling&sid=",
        False,
        BOTH,
        ErrorCode.BAD_HANDSHAKE_METHOD,
    ),
    (
        "put-handshake",
        "PUT",
        "EIO=4&transport=polling",
        False,
        BOTH,
        ErrorCode.BAD_HANDSHAKE_METHOD,
    ),
    # 3: a websocket handshake needs the Upgrade header; checked before the version.
    (
        "websocket-no-upgrade",
        "GET",
        "EIO=4&transport=websocket",
        False,
        BOTH,
        ErrorCode.BAD_REQUEST,
    ),
    (
        "websocket-no-upgrade-before-eio",
        "GET",
        "EIO=3&transport=websocket",
        False,
        BOTH,
        ErrorCode.BAD_REQUEST,
    ),
    # 5: anything but EIO=4.
    (
        "eio-3",
        "GET",
        "EIO=3&transport=polling",
        False,
        BOTH,
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        "eio-missing",
        "GET",
        "transport=polling",
        False,
        BOTH,
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        "eio-abc",
        "GET",
        "EIO=abc&transport=polling",
        False,
        BOTH,
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        "eio-empty",
        "GET",
        "EIO=&transport=polling",
        False,
        BOTH,
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        "eio-5",
        "GET",
        "EIO=5&transport=polling",
        False,
        BOTH,
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        "eio-04",
        "GET",
        "EIO=04&transport=polling",
        False,
        BOTH,
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        "eio-3-websocket",
        "GET",
        "EIO=3&transport=websocket",
        True,
        BOTH,
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        "repeated-eio-last-3",
        "GET",
        "EIO=4&transport=polling&EIO=3",
        False,
        BOTH,
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        # The protocol makes EIO mandatory on every request (the reference checks it at the
        # handshake only).
        "eio-3-with-sid",
        "GET",
        "EIO=3&transport=polling&sid=abc",
        False,
        BOTH,
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        "eio-before-upgrade-mismatch",
        "GET",
        "EIO=3&transport=polling",
        True,
        BOTH,
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    # 3: a websocket upgrade that names the polling transport.
    ("upgrade-to-polling", "GET", "EIO=4&transport=polling", True, BOTH, ErrorCode.BAD_REQUEST),
    (
        "upgrade-to-polling-with-sid",
        "GET",
        "EIO=4&transport=polling&sid=abc",
        True,
        BOTH,
        ErrorCode.BAD_REQUEST,
    ),
]


@pytest.mark.parametrize(
    ("method", "query_string", "is_upgrade", "transports", "code"),
    [c[1:] for c in REFUSALS],
    ids=[c[0] for c in REFUSALS],
)
def test_eio_request_classify_refuses(
    method: str,
    query_string: str,
    is_upgrade: bool,
    transports: tuple[TransportName, ...],
    code: ErrorCode,
) -> None:
    with pytest.raises(RequestError) as info:
        classify_request(method, parse_query(query_string), is_upgrade, transports)
    error = info.value
    assert error.code is code
    assert error.status == 400
    assert error.message == ERROR_MESSAGES[code]
    assert json.loads(error.body()) == {"code": int(code), "message": ERROR_MESSAGES[code]}


# -- classify_request: accepted requests ----------------------------------------------------------

# (id, method, query string, is_upgrade, expected transport, expected sid)
ACCEPTED: list[tuple[str, str, str, bool, TransportName, str | None]] = [
    ("polling-handshake", "GET", "EIO=4&transport=polling", False, POLLING, None),
    ("polling-handshake-cache-buster", "GET", "EIO=4&transport=polling&t=N1", False, POLLING, None),
    ("websocket-handshake", "GET", "EIO=4&transport=websocket", True, WEBSOCKET, None),
    ("poll", "GET", "EIO=4&transport=polling&sid=abc", False, POLLING, "abc"),
    ("post", "POST", "EIO=4&transport=polling&sid=abc", False, POLLING, "abc"),
    ("upgrade", "GET", "EIO=4&transport=websocket&sid=abc", True, WEBSOCKET, "abc"),
    # With a sid the method and the Upgrade header are the session's business.
    (
        "websocket-sid-no-upgrade",
        "GET",
        "EIO=4&transport=websocket&sid=abc",
        False,
        WEBSOCKET,
        "abc",
    ),
    ("other-method-with-sid", "PUT", "EIO=4&transport=polling&sid=abc", False, POLLING, "abc"),
    (
        "repeated-keys-last-wins",
        "GET",
        "transport=abc&EIO=3&transport=polling&EIO=4",
        False,
        POLLING,
        None,
    ),
]


@pytest.mark.parametrize(
    ("method", "query_string", "is_upgrade", "transport", "sid"),
    [c[1:] for c in ACCEPTED],
    ids=[c[0] for c in ACCEPTED],
)
def test_eio_request_classify_accepts(
    method: str,
    query_string: str,
    is_upgrade: bool,
    transport: TransportName,
    sid: str | None,
) -> None:
    query = parse_query(query_string)
    request = classify_request(method, query, is_upgrade)
    assert request == EngineRequest(method, transport, sid, is_upgrade, query)
    assert request.transport is transport


def test_eio_request_classify_default_enables_both_transports() -> None:
    for name in ("polling", "websocket"):
        request = classify_request("GET", {"EIO": "4", "transport": name}, name == "websocket")
        assert request.transport == name


def test_eio_request_engine_request_is_frozen() -> None:
    request = classify_request("GET", {"EIO": "4", "transport": "polling"}, False)
    with pytest.raises(AttributeError):
        request.sid = "other"  # type: ignore[misc]


# -- check_session_request ------------------------------------------------------------------------

# (id, method, query string, is_upgrade, session transport or None, expected error or None)
SESSION_CASES: list[tuple[str, str, str, bool, TransportName | None, ErrorCode | None]] = [
    ("unknown-sid-poll", "GET", "transport=polling", False, None, ErrorCode.UNKNOWN_SID),
    ("unknown-sid-post", "POST", "transport=polling", False, None, ErrorCode.UNKNOWN_SID),
    ("unknown-sid-upgrade", "GET", "transport=websocket", True, None, ErrorCode.UNKNOWN_SID),
    (
        "unknown-sid-plain-websocket",
        "GET",
        "transport=websocket",
        False,
        None,
        ErrorCode.UNKNOWN_SID,
    ),
    ("poll-on-polling", "GET", "transport=polling", False, POLLING, None),
    ("post-on-polling", "POST", "transport=polling", False, POLLING, None),
    ("upgrade-of-polling", "GET", "transport=websocket", True, POLLING, None),
    # Refused later by the session (already on websocket), not here.
    ("upgrade-of-websocket", "GET", "transport=websocket", True, WEBSOCKET, None),
    ("poll-on-websocket", "GET", "transport=polling", False, WEBSOCKET, ErrorCode.BAD_REQUEST),
    ("post-on-websocket", "POST", "transport=polling", False, WEBSOCKET, ErrorCode.BAD_REQUEST),
    (
        "plain-websocket-on-polling",
        "GET",
        "transport=websocket",
        False,
        POLLING,
        ErrorCode.BAD_REQUEST,
    ),
    # A websocket session takes no HTTP requests, even ones naming its transport.
    (
        "plain-get-on-websocket",
        "GET",
        "transport=websocket",
        False,
        WEBSOCKET,
        ErrorCode.BAD_REQUEST,
    ),
    (
        "plain-post-on-websocket",
        "POST",
        "transport=websocket",
        False,
        WEBSOCKET,
        ErrorCode.BAD_REQUEST,
    ),
]


@pytest.mark.parametrize(
    ("method", "query_string", "is_upgrade", "session_transport", "code"),
    [c[1:] for c in SESSION_CASES],
    ids=[c[0] for c in SESSION_CASES],
)
def test_eio_request_check_session(
    method: str,
    query_string: str,
    is_upgrade: bool,
    session_transport: TransportName | None,
    code: ErrorCode | None,
) -> None:
    request = classify_request(method, parse_query(f"EIO=4&sid=abc&{query_string}"), is_upgrade)
    if code is None:
        check_session_request(request, session_transport)  # does not raise
        return
    with pytest.raises(RequestError) as info:
        check_session_request(request, session_transport)
    assert info.value.code is code
    assert info.value.status == 400


# -- RequestError: the reply ----------------------------------------------------------------------

ERROR_BODIES = [
    (ErrorCode.UNKNOWN_TRANSPORT, 400, b'{"code":0,"message":"Transport unknown"}'),
    (ErrorCode.UNKNOWN_SID, 400, b'{"code":1,"message":"Session ID unknown"}'),
    (ErrorCode.BAD_HANDSHAKE_METHOD, 400, b'{"code":2,"message":"Bad handshake method"}'),
    (ErrorCode.BAD_REQUEST, 400, b'{"code":3,"message":"Bad request"}'),
    (ErrorCode.FORBIDDEN, 403, b'{"code":4,"message":"Forbidden"}'),
    (
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
        400,
        b'{"code":5,"message":"Unsupported protocol version"}',
    ),
]


@pytest.mark.parametrize(
    ("code", "status", "body"), ERROR_BODIES, ids=[c.name for c, _, _ in ERROR_BODIES]
)
def test_eio_request_error_reply_is_the_reference_servers(
    code: ErrorCode, status: int, body: bytes
) -> None:
    error = RequestError(code)
    assert error.status == status
    assert error.body() == body
    assert isinstance(error, RemoteProtocolError)
    assert str(error) == f"{status} {ERROR_MESSAGES[code]} (code {int(code)})"


def test_eio_request_error_custom_message_and_status() -> None:
    error = RequestError(ErrorCode.BAD_REQUEST, "Payload too large", status=413)
    assert error.status == 413
    assert error.body() == b'{"code":3,"message":"Payload too large"}'


def test_eio_request_error_forbidden_custom_message_keeps_403() -> None:
    error = RequestError(ErrorCode.FORBIDDEN, "Origin not allowed")
    assert (error.status, error.message) == (403, "Origin not allowed")


def test_eio_request_error_body_is_json_with_non_ascii_message() -> None:
    error = RequestError(ErrorCode.FORBIDDEN, "nein ❌")
    assert json.loads(error.body()) == {"code": 4, "message": "nein ❌"}
