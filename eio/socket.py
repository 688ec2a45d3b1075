"""One Engine.IO session on the server: what the layer above holds, and the glue between the
sans-IO ``Session`` (the rules), its ``Transport`` (polling or websocket) and the reactor (time,
end-of-tick flushes)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from reactor import Alarmed

from .protocol.request import TransportName
from .protocol.session import (
    DisconnectReason,
    Event,
    MessageReceived,
    ReadyState,
    Session,
    SessionClosed,
    UpgradeAborted,
)
from .transports.polling import PollingTransport
from .transports.websocket import UpgradeCandidate, WebSocketTransport

if TYPE_CHECKING:
    from .net.http import HttpRequest
    from .net.websocket import WebSocketConnection
    from .outbound import Outbound
    from .protocol.packet import Packet
    from .server import EngineIOServer

__all__ = ["EngineSocket"]

log = logging.getLogger(__name__)

_CLOSED = ReadyState.CLOSED


class _Finished:
    """The transport of a finished session: it drops everything. The session lets go of its
    real transport, which points back at it, so that the session, its transport, connection
    and the layer above's state are freed by reference counting as soon as the last outside
    reference goes, not by the cycle collector, which an idle server may not run for minutes
    (the dead sessions' memory would stay, and fragment the allocator's arenas)."""

    __slots__ = ("name",)

    writable = False

    def __init__(self, name: TransportName) -> None:
        self.name = name

    def send_message(self, data: str) -> None:
        pass

    def send_binary(self, data: bytes) -> None:
        pass

    def send_outbound(self, outbound: Outbound) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class EngineSocket(Alarmed):
    """One Engine.IO session on the server: what handlers get, and its transports' glue."""

    __slots__ = (
        "_dirty",
        "_finalized",
        "active_transport",
        "candidate",
        "data",
        "request",
        "send",
        "server",
        "session",
        "sid",
        "text_handler",
    )

    #: ``send(data)``: send a text message (dropped once the session is closing). The active
    #: transport's own method, bound here: the hot path of every emit and ack.
    send: Callable[[str], None]
    #: What carries the session now (a ``_Finished`` one once the session ended).
    active_transport: PollingTransport | WebSocketTransport | _Finished

    def __init__(
        self,
        server: EngineIOServer,
        sid: str,
        request: HttpRequest,
        ws: WebSocketConnection | None = None,
    ) -> None:
        """A session over polling, or over ``ws`` (a websocket handshake)."""
        config = server.config
        self.server = server
        self.sid = sid
        #: The handshake request (headers, query, peer address).
        self.request = request
        self.session = Session(
            sid,
            TransportName.POLLING if ws is None else TransportName.WEBSOCKET,
            now=server.reactor.time(),
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            upgrade_timeout=config.upgrade_timeout,
        )
        self._use(PollingTransport(self) if ws is None else WebSocketTransport(self, ws))
        #: A websocket probing to take over this polling session, if any.
        self.candidate: UpgradeCandidate | None = None
        self._dirty = False
        self._finalized = False
        self.init_alarm()
        #: Free for the layer above (Socket.IO keeps its per-connection state here).
        self.data: object = None
        #: Set by the layer above to get this session's text messages directly, instead of
        #: through ``Handler.on_message`` (one dispatch less per message).
        self.text_handler: Callable[[str], None] | None = None

    def __repr__(self) -> str:
        return f"<EngineSocket {self.sid} {self.transport} {self.session.ready_state.value}>"

    # -- the handler's API ----------------------------------------------------------------------

    @property
    def transport(self) -> str:
        """``"polling"`` or ``"websocket"``."""
        return self.session.transport.value

    @property
    def remote_address(self) -> str | None:
        peer = self.request.remote_address
        return peer[0] if peer else None

    @property
    def connected(self) -> bool:
        return self.session.sending

    @property
    def writable(self) -> bool:
        """Could a packet leave right now (used to drop volatile packets)?"""
        return self.session.sending and self.active_transport.writable

    def send_binary(self, data: bytes) -> None:
        """Send a binary message (dropped once the session is closing)."""
        self.active_transport.send_binary(data)

    def send_outbound(self, outbound: Outbound) -> None:
        """Send messages encoded once for many sessions (their websocket frames shared too);
        ``Outbound.send_to`` sends to many at once."""
        outbound.count_sent(self.server.traffic, 1)
        self.active_transport.send_outbound(outbound)

    def close(self, reason: DisconnectReason = DisconnectReason.FORCED_CLOSE) -> None:
        """Close the session; queued packets still go out first."""
        event = self.session.close(self.server.reactor.time(), reason)
        if event is not None:
            self.handle(event)
        self.mark_dirty()

    # -- for the transports ---------------------------------------------------------------------

    def mark_dirty(self) -> None:
        """Flush at the end of this tick."""
        if not self._dirty:
            self._dirty = True
            self.server.reactor.mark_dirty(self)

    def receive(self, packet: Packet) -> None:
        """A packet on the session's transport: through the session's rules."""
        event = self.session.receive(packet, self.server.reactor.time())
        if event is not None:
            self.handle(event)

    def fail(self, reason: DisconnectReason) -> None:
        """The transport broke, or the client broke the protocol: close at once."""
        event = self.session.fail(reason)
        if event is not None:
            self.handle(event)
        self.mark_dirty()

    def handle(self, event: Event) -> None:
        if isinstance(event, MessageReceived):
            data = event.data
            if isinstance(data, str):
                self.deliver_text(data)
            else:
                self.deliver_binary(data)
        elif isinstance(event, SessionClosed):
            self.mark_dirty()
            # Later, not now: a send that failed mid-broadcast must not change the rooms the
            # broadcast is walking.
            self.server.reactor.call_soon(self._notify_closed, event.reason)
        elif isinstance(event, UpgradeAborted):
            candidate, self.candidate = self.candidate, None
            if candidate is not None:
                candidate.close()

    def deliver_text(self, data: str) -> None:
        try:
            if self.text_handler is not None:
                self.text_handler(data)
            else:
                self.server.handler.on_message(self, data)
        except Exception:
            log.exception("error in on_message handler (sid=%s)", self.sid)

    def deliver_binary(self, data: bytes) -> None:
        try:
            self.server.handler.on_binary(self, data)
        except Exception:
            log.exception("error in on_binary handler (sid=%s)", self.sid)

    def _notify_closed(self, reason: DisconnectReason) -> None:
        log.debug("session closed sid=%s reason=%s", self.sid, reason)
        self.server.stats.closes[reason.value] += 1
        try:
            self.server.handler.on_disconnect(self, reason)
        except Exception:
            log.exception("error in on_disconnect handler (sid=%s)", self.sid)
        # The layer above's state points back at this session: let go of it (see _Finished).
        self.data = None
        self.text_handler = None

    # -- the upgrade ----------------------------------------------------------------------------

    def begin_upgrade(self, ws: WebSocketConnection) -> None:
        """A websocket with this session's sid: it probes, or is refused (closed)."""
        if not self.session.begin_upgrade(self.server.reactor.time()):
            ws.close()  # already upgraded or upgrading: the reference server closes the newcomer
            return
        candidate = self.candidate = UpgradeCandidate(self, ws)
        ws.start(candidate)
        self.mark_dirty()

    def upgrade_to(self, ws: WebSocketConnection) -> None:
        """The candidate sent ``5``: the websocket carries the session from now on."""
        self.candidate = None
        polling = self.active_transport
        assert not isinstance(polling, _Finished)  # a finished session has no candidate
        websocket = WebSocketTransport(self, ws)
        self._use(websocket)
        ws.listener = websocket
        polling.close()  # a parked poll is released (NOOP)
        websocket.flush()  # what waited in the queue goes first
        self.mark_dirty()
        for listener in self.server.upgrade_listeners:
            listener(self)

    def _use(self, transport: PollingTransport | WebSocketTransport | _Finished) -> None:
        self.active_transport = transport
        self.send = transport.send_message

    # -- flushing and time ----------------------------------------------------------------------

    def flush(self) -> None:
        """End of tick: the transport sends what the session queued; time is re-armed."""
        self._dirty = False
        if self._finalized:
            return
        self.active_transport.flush()
        if self.session.ready_state is _CLOSED:
            self._finalize()
        else:
            self.arm_timer()

    def arm_timer(self) -> None:
        self.set_alarm(self.server.reactor, self.session.next_deadline())

    def on_alarm(self) -> None:
        for event in self.session.handle_timeout(self.server.reactor.time()):
            self.handle(event)
        self.mark_dirty()

    def _finalize(self) -> None:
        self._finalized = True
        self.cancel_alarm()
        transport = self.active_transport
        transport.close()
        self._use(_Finished(transport.name))  # no cycle left (see _Finished)
        if self.candidate is not None:
            self.candidate.close()
            self.candidate = None
        self.server.session_ended(self)
