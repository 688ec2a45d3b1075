"""TLS on the reactor: a ``Stream`` whose bytes pass through an ``ssl.SSLObject``.

Sans-IO TLS: the socket stays a plain non-blocking socket; what arrives is written to an incoming
``MemoryBIO``, what the ``SSLObject`` produces is read from an outgoing one and sent as the plain
stream sends. So the contract is ``Stream``'s: writes are coalesced and encrypted once per tick,
the slow-reader cap counts encrypted bytes not yet taken by the kernel, ``close`` lingers.

::

    socket ──recv──> incoming BIO ──SSLObject.read──> protocol.data_received
    socket <──send── outgoing BIO <──SSLObject.write── Stream.write (held until the handshake)

- Writes made before the handshake completes are held and encrypted once it has.
- ``close()`` sends close_notify, best effort (after everything written has been sent).
- A handshake that does not complete within ``handshake_timeout`` seconds (a peer that connects
  and sends nothing, or half a ClientHello) is aborted with ``TlsHandshakeTimeout``.
- A failed handshake (an alert, garbage, plain HTTP on the TLS port, a certificate refused) is
  aborted with ``TlsError``, whose message names the cause, logged once at debug level.
- A peer's close_notify, or a TCP EOF without it (as many HTTP clients do), is an EOF.
- TLS 1.2 at least; no renegotiation (OpenSSL refuses it for TLS 1.3, and we never ask).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from typing import cast

from .loop import Reactor
from .stream import DEFAULT_MAX_BUFFER, Stream, StreamProtocol
from .timers import TimerHandle

__all__ = [
    "DEFAULT_TLS_HANDSHAKE_TIMEOUT",
    "TlsConfigError",
    "TlsError",
    "TlsHandshakeTimeout",
    "TlsStream",
    "client_tls_context",
    "server_tls_context",
]

log = logging.getLogger(__name__)

#: Seconds a TLS handshake may take. Node's ``tls.Server`` allows 120 s (``handshakeTimeout``),
#: nginx 60 s (``ssl_handshake_timeout``); a handshake is two round trips, so 10 s is generous
#: for any real client and frees a silent or dribbling peer's slot six times sooner than nginx.
DEFAULT_TLS_HANDSHAKE_TIMEOUT = 10.0


class TlsError(ConnectionError):
    """The TLS layer failed: the handshake (certificate refused, an alert, not TLS at all) or a
    record. ``certificate_refused``: the peer's certificate failed verification, which retrying
    will not fix."""

    def __init__(self, message: str, *, certificate_refused: bool = False) -> None:
        super().__init__(message)
        self.certificate_refused = certificate_refused


class TlsHandshakeTimeout(TlsError):
    """The TLS handshake did not complete in time."""


class TlsConfigError(ValueError):
    """A certificate, key or CA file cannot be used (missing, unreadable, not matching)."""


def describe_ssl_error(exc: ssl.SSLError) -> TlsError:
    """A ``TlsError`` naming the cause: "certificate verify failed: Hostname mismatch, ..."."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or exc.reason or "unknown reason"
        return TlsError(f"certificate verify failed: {detail}", certificate_refused=True)
    return TlsError(f"TLS failed: {_ssl_reason(exc)}")


def server_tls_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A server context (TLS 1.2+, Python's defaults for ``Purpose.CLIENT_AUTH``) serving the
    certificate chain in ``certfile`` with the private key in ``keyfile`` (or in ``certfile``).

    Raises:
        TlsConfigError: a file is missing or unreadable, or the key does not match.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except OSError as exc:  # FileNotFoundError, PermissionError, ssl.SSLError
        raise TlsConfigError(_load_failure(exc, certfile, keyfile)) from None
    return context


def client_tls_context(*, cafile: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """A client context: the system's CAs (and ``cafile``'s), hostname checking on; with
    ``verify=False`` nothing is checked (development only).

    Raises:
        TlsConfigError: ``cafile`` is missing or holds no certificate.
    """
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cafile is not None:
        try:
            context.load_verify_locations(cafile=cafile)
        except OSError as exc:
            raise TlsConfigError(f"cannot load CA file {cafile!r}: {_os_reason(exc)}") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _ssl_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason in words: "HTTP_REQUEST" -> "http request"."""
    if exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    return exc.strerror or str(exc)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return _ssl_reason(exc)
    return exc.strerror or str(exc)


def _load_failure(exc: OSError, certfile: str, keyfile: str | None) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason == "KEY_VALUES_MISMATCH":
        return f"the key {keyfile or certfile!r} does not match the certificate {certfile!r}"
    files = f"certificate {certfile!r}" + (f" / key {keyfile!r}" if keyfile else "")
    name = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return f"cannot load {files}: {_os_reason(exc)}{name}"


class TlsStream(Stream):
    """A ``Stream`` speaking TLS: server side (``server_hostname`` None) or client side (SNI and
    hostname checking on ``server_hostname``, as the context says).

    Only the read, send and shutdown steps differ from ``Stream``: ``write`` and ``abort`` are
    its own, so the plain stream's methods carry no TLS branch.
    """

    __slots__ = (
        "_cipher",
        "_close_notified",
        "_established",
        "_handshake_timer",
        "_incoming",
        "_outgoing",
        "_tls",
        "handshake_timeout",
    )

    def __init__(
        self,
        reactor: Reactor,
        sock: socket.socket,
        protocol: StreamProtocol,
        context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        handshake_timeout: float = DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        peer: tuple[str, int] | None = None,
    ) -> None:
        super().__init__(reactor, sock, protocol, max_buffer=max_buffer, peer=peer)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming,
            self._outgoing,
            server_side=server_hostname is None,
            server_hostname=server_hostname,
        )
        self.handshake_timeout = handshake_timeout
        self._handshake_timer: TimerHandle | None = None
        self._established = False
        self._close_notified = False
        #: Encrypted bytes the kernel has not taken yet.
        self._cipher = b""

    def start(self, initial_data: bytes = b"") -> None:
        """Register, and start the handshake (``initial_data``: TLS bytes read elsewhere)."""
        self.sock.setblocking(False)
        self.reactor.register(self.sock, self)
        if self.handshake_timeout > 0:
            self._handshake_timer = self.reactor.call_later(
                self.handshake_timeout, self._handshake_timed_out
            )
        if initial_data:
            self._incoming.write(initial_data)
        self._handshake()

    # -- the handshake --------------------------------------------------------------------------

    def _handshake(self) -> None:
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._push()  # our part of the handshake so far
            return
        except ssl.SSLError as exc:
            self._push()  # the alert telling the peer why, best effort
            self._failed(describe_ssl_error(exc))
            return
        except OSError as exc:
            self._failed(TlsError(f"TLS failed: {exc}"))
            return
        self._established = True
        self._cancel_handshake_timer()
        log.debug("TLS with %s established (%s)", self.peer, self._tls.version())
        self._send()  # the handshake's last bytes, then what was written meanwhile
        if not self.closed:
            self._read_records()  # application data that came with the handshake's end

    def _handshake_timed_out(self) -> None:
        self._handshake_timer = None
        if not self._established and not self.closed:
            self._failed(
                TlsHandshakeTimeout(f"TLS handshake not complete after {self.handshake_timeout} s")
            )

    def _failed(self, exc: TlsError) -> None:
        log.debug("TLS with %s failed: %s", self.peer, exc)
        self.abort(exc)

    def _cancel_handshake_timer(self) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None

    # -- reading --------------------------------------------------------------------------------

    def on_readable(self) -> None:
        if self.closed:
            return
        buffer = self.reactor.read_buffer
        try:
            size = self.sock.recv_into(buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.abort(exc)
            return
        if self.closing:
            # Closing: what the peer still sends (its close_notify) is dropped; we wait for EOF.
            if not size:
                self._finish(None)
            return
        if size:
            self._incoming.write(buffer[:size])
        else:
            self._incoming.write_eof()
        if not self._established:
            self._handshake()
            return
        self._read_records()

    def _read_records(self) -> None:
        """Decrypt what has arrived and hand it to the protocol in one call."""
        buffer = self.reactor.read_buffer
        tls = self._tls
        chunks: list[bytes] = []
        eof = False
        error: TlsError | None = None
        try:
            while True:
                # (With a buffer, read returns a count: typeshed says bytes.)
                size = cast(int, tls.read(len(buffer), buffer))
                if not size:
                    eof = True
                    break
                chunks.append(buffer[:size].tobytes())
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            eof = True  # close_notify, or a TCP EOF without it: the end either way
        except ssl.SSLError as exc:
            error = describe_ssl_error(exc)
        if chunks:
            self.protocol.data_received(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if self.closed:
            return
        if error is not None:
            self._failed(error)
        elif eof:
            if not self.closing:
                self.protocol.eof_received()
                if not self.closed:
                    self.close()
        elif self._outgoing.pending and not self._dirty and not self._want_write:
            # TLS itself has something to say (a key update, session tickets): send it this tick.
            self._dirty = True
            self.reactor.mark_dirty(self)

    # -- writing --------------------------------------------------------------------------------

    def flush(self) -> None:
        self._dirty = False
        if self.closed or self._want_write:
            return
        if self._out or self._outgoing.pending:
            self._send()
        if self.closing and not self.closed and not self._cipher and not self._want_write:
            self._shutdown()

    def on_writable(self) -> None:
        if self.closed:
            return
        self._send()
        if self.closed or self._cipher:
            return
        self._want_write = False
        self.reactor.set_writable(self.sock, self, False)
        if self.closing:
            self._shutdown()

    def _send(self) -> None:
        """Encrypt what was written (once the handshake is done) and send what is encrypted."""
        out = self._out
        if out and self._established:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            try:
                self._tls.write(data)
            except ssl.SSLError as exc:
                self._failed(describe_ssl_error(exc))
                return
        self._push()

    def _push(self) -> None:
        """Send the encrypted bytes; what the kernel does not take waits for writability."""
        data = self._cipher + self._outgoing.read() if self._cipher else self._outgoing.read()
        if not data:
            return
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self.abort(exc)
            return
        self._cipher = data[sent:] if sent < len(data) else b""
        held = sum(map(len, self._out))
        self._out_len = len(self._cipher) + held
        if self._cipher and not self._want_write:
            self._want_write = True
            self.reactor.set_writable(self.sock, self, True)

    # -- closing --------------------------------------------------------------------------------

    def _shutdown(self) -> None:
        if not self._established:
            self._finish(None)  # no TLS session to close; anything held is dropped
            return
        if not self._close_notified:
            self._close_notified = True
            # unwrap puts close_notify in the outgoing BIO, then raises SSLWantReadError: the
            # peer's close_notify has not come (and need not).
            with contextlib.suppress(ssl.SSLError):
                self._tls.unwrap()
            data = self._outgoing.read()
            if data:
                with contextlib.suppress(OSError):
                    self.sock.send(data)  # best effort: a full socket buffer drops it
        super()._shutdown()

    def abort(self, exc: BaseException | None = None) -> None:
        if not self.closed:
            self._cipher = b""
        super().abort(exc)

    def _finish(self, exc: BaseException | None) -> None:
        self._cancel_handshake_timer()
        super()._finish(exc)
