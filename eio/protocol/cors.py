"""Cross-origin rules: which origins may talk to the server, and the headers that say so.

Browsers enforce CORS on polling requests; they do not on websocket upgrades, so the server
itself refuses an upgrade from an origin it does not allow (cross-site websocket hijacking).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

__all__ = ["CorsPolicy"]

ALLOWED_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"


class CorsPolicy:
    """``origins``: None (same origin only), ``"*"`` (any), a list, or a predicate."""

    __slots__ = ("_any", "_credentials", "_extra", "_origins", "_predicate")

    def __init__(
        self,
        origins: str | Sequence[str] | Callable[[str], bool] | None,
        credentials: bool = True,
    ) -> None:
        self._any = origins == "*"
        self._predicate: Callable[[str], bool] | None = None
        self._origins: frozenset[str] = frozenset()
        if callable(origins):
            self._predicate = origins
        elif isinstance(origins, str) and not self._any:
            self._origins = frozenset({origins.rstrip("/")})
        elif origins is not None and not self._any:
            self._origins = frozenset(o.rstrip("/") for o in origins)
        self._credentials = credentials
        #: Origins admitted besides the policy's own, always with credentials (``admit``).
        self._extra: frozenset[str] = frozenset()

    def admit(self, origins: Sequence[str]) -> None:
        """Also admit these origins, with credentials, whatever the policy says otherwise (a
        tool's own page, such as the hosted Admin UI, next to the application's origins)."""
        self._extra = self._extra | frozenset(o.rstrip("/") for o in origins)

    def allows(self, origin: str | None, host: str | None) -> bool:
        """May a request with this ``Origin`` (and ``Host``) header be served?

        A request without an Origin is not cross-origin (non-browser clients send none).
        """
        if origin is None or self._any:
            return True
        if self._extra and origin.rstrip("/") in self._extra:
            return True
        if self._predicate is not None:
            return bool(self._predicate(origin))
        if origin.rstrip("/") in self._origins:
            return True
        return same_origin(origin, host)

    def headers(self, origin: str | None) -> list[tuple[str, str]]:
        """Headers for the response to an allowed request."""
        if origin is None:
            return []
        if self._extra and origin.rstrip("/") in self._extra:
            return [
                ("access-control-allow-origin", origin),
                ("vary", "Origin"),
                ("access-control-allow-credentials", "true"),
            ]
        if self._any and not self._credentials:
            return [("access-control-allow-origin", "*")]
        headers = [("access-control-allow-origin", origin), ("vary", "Origin")]
        if self._credentials:
            headers.append(("access-control-allow-credentials", "true"))
        return headers

    def preflight_headers(
        self, origin: str | None, requested_headers: str | None
    ) -> list[tuple[str, str]]:
        """Headers for the 204 answer to an allowed OPTIONS preflight."""
        headers = self.headers(origin)
        headers.append(("access-control-allow-methods", ALLOWED_METHODS))
        if requested_headers:
            headers.append(("access-control-allow-headers", requested_headers))
            headers.append(("vary", "Access-Control-Request-Headers"))
        return headers


def same_origin(origin: str, host: str | None) -> bool:
    """Does ``origin`` (``scheme://host[:port]``) name the host the request was sent to?"""
    if host is None:
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    default_port = ":443" if parts.scheme == "https" else ":80"
    netloc = parts.netloc.lower().removesuffix(default_port)
    return netloc == host.lower().removesuffix(default_port)
