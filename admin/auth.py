"""The Admin UI's login: a bcrypt password check off the reactor thread, and session tokens.

A good login is answered with a session token; the UI keeps it and reconnects with
``{sessionId}`` instead of the password. The token is signed (HMAC-SHA256 with a secret the
workers of a cluster share, made in the master before it forks), so every worker can verify a
token another one issued, with no store to share. Tokens expire (24 h by default).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable
from types import ModuleType
from typing import Any

from reactor import Reactor

__all__ = [
    "BCRYPT_HINT",
    "Credentials",
    "PasswordChecker",
    "SessionTokens",
    "hash_password",
    "is_bcrypt_hash",
    "load_bcrypt",
]

log = logging.getLogger(__name__)

BCRYPT_HINT = "the Admin UI's login needs bcrypt: pip install 'sio-chat[admin]'"
#: Seconds a session token stays good (the Node package's RedisStore keeps sessions a day).
SESSION_LIFETIME = 24 * 3600.0
#: Password checks waiting for the checking thread, at most; more are refused at once, so a
#: flood of logins costs bounded CPU and memory (each check is ~50-100 ms of bcrypt).
MAX_PENDING_CHECKS = 4


def load_bcrypt() -> ModuleType:
    """The bcrypt module (the ``[admin]`` extra), imported on first use only."""
    try:
        import bcrypt
    except ImportError:
        raise ImportError(BCRYPT_HINT) from None
    return bcrypt


def is_bcrypt_hash(value: str) -> bool:
    """Does ``value`` look like a bcrypt hash (``$2a$``/``$2b$``/``$2y$``, cost, 53 chars)?"""
    return (
        len(value) == 60
        and value[:4] in ("$2a$", "$2b$", "$2y$")
        and value[4:6].isdigit()
        and value[6] == "$"
    )


def hash_password(password: str, rounds: int = 10) -> str:
    """A bcrypt hash of ``password`` (what ``instrument`` keeps instead of the password)."""
    bcrypt = load_bcrypt()
    hashed: bytes = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds))
    return hashed.decode("ascii")


class Credentials:
    """The one admin account: a user name and a bcrypt hash (a plain password is hashed)."""

    __slots__ = ("password_hash", "username")

    def __init__(self, username: str, password: str) -> None:
        if not username:
            raise ValueError("the Admin UI's user name must not be empty")
        self.username = username
        self.password_hash = password if is_bcrypt_hash(password) else hash_password(password)
        load_bcrypt()  # a hash given as is still needs bcrypt to check logins: fail now

    def username_matches(self, username: Any) -> bool:
        return isinstance(username, str) and hmac.compare_digest(
            username.encode(), self.username.encode()
        )


class PasswordChecker:
    """Runs bcrypt checks on one thread (bcrypt releases the GIL) and answers on the reactor:
    a login never stalls the other clients. Bounded: see ``MAX_PENDING_CHECKS``."""

    def __init__(self, reactor: Reactor, password_hash: str) -> None:
        self._reactor = reactor
        self._hash = password_hash.encode("ascii")
        self._queue: deque[tuple[str, Callable[[bool], None]]] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def check(self, password: str, done: Callable[[bool], None]) -> None:
        """``done(matches)`` on the reactor thread; ``done(False)`` at once when too busy."""
        with self._lock:
            if len(self._queue) >= MAX_PENDING_CHECKS:
                busy = True
            else:
                busy = False
                self._queue.append((password, done))
                if self._thread is None:  # made lazily: after a cluster's fork, in the worker
                    self._thread = threading.Thread(
                        target=self._run, name="admin-ui-login", daemon=True
                    )
                    self._thread.start()
        if busy:
            log.warning("admin UI: too many logins at once, one refused")
            done(False)

    def _run(self) -> None:
        bcrypt = load_bcrypt()
        while True:
            with self._lock:
                if not self._queue:
                    self._thread = None
                    return
                password, done = self._queue[0]
            try:
                matches = bool(bcrypt.checkpw(password.encode(), self._hash))
            except (ValueError, UnicodeEncodeError):
                matches = False
            with self._lock:
                self._queue.popleft()
            self._reactor.call_soon_threadsafe(done, matches)


class SessionTokens:
    """Signed, expiring session tokens: ``<expiry in hex>.<nonce>.<signature>`` (sans-IO: the
    time is passed in)."""

    __slots__ = ("_key", "lifetime")

    def __init__(self, secret: bytes | None = None, lifetime: float = SESSION_LIFETIME) -> None:
        self._key = secret if secret is not None else secrets.token_bytes(32)
        self.lifetime = lifetime

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode("ascii"), hashlib.sha256).hexdigest()

    def issue(self, now: float) -> str:
        body = f"{int(now + self.lifetime):x}.{secrets.token_hex(8)}"
        return f"{body}.{self._sign(body)}"

    def verify(self, token: Any, now: float) -> bool:
        if not isinstance(token, str) or len(token) > 200 or not token.isascii():
            return False
        body, _, signature = token.rpartition(".")
        if not hmac.compare_digest(self._sign(body), signature):
            return False
        try:
            expiry = int(body.partition(".")[0], 16)
        except ValueError:
            return False
        return now < expiry
