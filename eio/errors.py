"""Engine.IO errors.

Every error names the protocol answer it maps to, in the style of h11's ``error_status_hint``:
``RequestError`` carries the HTTP status and the Engine.IO JSON error code of the reply, and
``ParseError`` closes the session with the reason "parse error".
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

__all__ = [
    "EngineIOError",
    "ErrorCode",
    "LocalProtocolError",
    "ParseError",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestError",
]


class ErrorCode(IntEnum):
    """The JSON error codes of the Engine.IO server (``{"code": N, "message": ...}``)."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5


#: The messages of the reference server, word for word (clients match on them).
ERROR_MESSAGES = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


class EngineIOError(Exception):
    """Root of every error raised by the ``eio`` package."""


class ProtocolError(EngineIOError):
    """The Engine.IO protocol was broken, by the peer or by us."""


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol does not allow (a bug in the caller)."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol."""


class ParseError(RemoteProtocolError):
    """An invalid packet or payload: the session closes with reason "parse error".

    ``decoded`` holds the packets of a payload that came before the invalid one; the reference
    server delivers them before it closes the session.
    """

    def __init__(self, message: str, decoded: list[Any] | None = None) -> None:
        super().__init__(message)
        self.decoded = decoded or []


class RequestError(RemoteProtocolError):
    """An HTTP request the server refuses, with the reply it gets.

    Args:
        code: the Engine.IO error code of the JSON body.
        message: the message of the JSON body; the standard one for ``code`` if omitted.
        status: the HTTP status; 403 for ``FORBIDDEN`` and 400 otherwise if omitted.
    """

    def __init__(
        self, code: ErrorCode, message: str | None = None, status: int | None = None
    ) -> None:
        self.code = code
        self.message = message or ERROR_MESSAGES[code]
        self.status = status or (403 if code is ErrorCode.FORBIDDEN else 400)
        super().__init__(f"{self.status} {self.message} (code {int(code)})")

    def body(self) -> bytes:
        """The JSON body of the reply, compact like the reference server's."""
        payload = {"code": int(self.code), "message": self.message}
        return json.dumps(payload, separators=(",", ":")).encode()
