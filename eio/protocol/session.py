"""The Engine.IO session state machine: heartbeat, polling rules, upgrade, close. Sans-IO.

Time is an argument (``now``, in seconds on any monotonic clock); the shell asks
``next_deadline()`` and calls ``handle_timeout(now)`` when it passes. One deadline per session,
however many packets flow: a pong only moves a number.

Outbound packets wait in a queue of encoded items: ``str`` for a text packet (``"4hello"``,
``"2"``) and ``bytes`` for a binary message. The shell drains it onto the active transport.

Upgrade from polling to websocket (the websocket is the "candidate" until it sends ``5``)::

    client (ws candidate)            session                     client (polling)
        | ---- 2probe ---------------> |                              |
        | <--- 3probe ---------------- |  PROBED: a parked GET gets   |
        |                              |  6 (noop) ------------------>|  client pauses polling
        | ---- 5 --------------------> |  DONE: transport=websocket,  |
        |                              |  the queue goes over ws      |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from ..errors import LocalProtocolError
from .packet import Packet, PacketType
from .request import TransportName

__all__ = [
    "MAX_POLL_PACKETS",
    "MAX_POLL_QUEUE",
    "MESSAGE_PREFIX",
    "DisconnectReason",
    "MessageReceived",
    "ProbeAnswered",
    "ReadyState",
    "Session",
    "SessionClosed",
    "UpgradeAborted",
    "UpgradeCompleted",
    "UpgradeState",
]

#: How long a server-side close waits for the client's next GET to hand it the CLOSE packet
#: (the reference server's polling ``closeTimeout``).
POLLING_CLOSE_TIMEOUT = 30.0

CLOSE_PACKET = "1"
PING_PACKET = "2"
PROBE_REPLY = "3probe"
NOOP_PACKET = "6"
#: A MESSAGE packet is its data after this type character.
MESSAGE_PREFIX = "4"
#: Packets in one polling response at most; the rest waits for the next poll. python-engineio
#: clients drop a payload of more than 16 packets (their ``max_decode_packets``).
MAX_POLL_PACKETS = 16
#: Packets a polling session may have waiting for its next GET before it is dropped as a slow
#: consumer ("transport error", as a websocket that stops reading): a client that never polls
#: again would otherwise hold every broadcast until its ping timeout. socketioxide's
#: ``max_buffer_size`` (128).
MAX_POLL_QUEUE = 128


class DisconnectReason(StrEnum):
    """Why a session ended, named as the reference server names it."""

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    SERVER_SHUTDOWN = "server shutting down"


class ReadyState(Enum):
    #: Packets flow both ways.
    OPEN = "open"
    #: Closed by the server; waiting to hand the CLOSE packet to the client's next poll.
    CLOSING = "closing"
    #: Over; the shell drops the session and its transports.
    CLOSED = "closed"


_OPEN = ReadyState.OPEN


class UpgradeState(Enum):
    #: No upgrade under way.
    NONE = "none"
    #: A websocket with this sid is attached; waiting for ``2probe``.
    PROBING = "probing"
    #: ``3probe`` sent; polling is answered with noops; waiting for ``5``.
    PROBED = "probed"
    #: The session runs over websocket for good.
    DONE = "done"


# Events are frozen dataclasses, not tuples, so that events of different kinds never compare equal
# (two empty NamedTuples would: ``UpgradeCompleted() == UpgradeAborted()``).


@dataclass(frozen=True, slots=True)
class MessageReceived:
    data: str | bytes


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """The session stopped being open. Reported exactly once per session."""

    reason: DisconnectReason


@dataclass(frozen=True, slots=True)
class ProbeAnswered:
    """Send ``reply`` on the candidate websocket."""

    reply: str


@dataclass(frozen=True, slots=True)
class UpgradeCompleted:
    """The candidate websocket is now the session's transport; drain the queue onto it."""


@dataclass(frozen=True, slots=True)
class UpgradeAborted:
    """Close the candidate websocket; the session goes on over polling."""


Event = MessageReceived | SessionClosed | ProbeAnswered | UpgradeCompleted | UpgradeAborted


class Session:
    """One Engine.IO session, whatever carries it."""

    __slots__ = (
        "_close_deadline",
        "_close_timeout",
        "_final_poll_packet",
        "_ping_due",
        "_ping_interval",
        "_ping_timeout",
        "_poll_parked",
        "_pong_deadline",
        "_post_active",
        "_queue",
        "_upgrade_deadline",
        "_upgrade_timeout",
        "max_poll_packets",
        "max_poll_queue",
        "ready_state",
        "sending",
        "sid",
        "transport",
        "upgrade",
    )

    def __init__(
        self,
        sid: str,
        transport: TransportName,
        *,
        now: float,
        ping_interval: float,
        ping_timeout: float,
        upgrade_timeout: float = 10.0,
        close_timeout: float = POLLING_CLOSE_TIMEOUT,
        max_poll_packets: int = MAX_POLL_PACKETS,
        max_poll_queue: int = MAX_POLL_QUEUE,
    ) -> None:
        self.sid = sid
        self.transport = transport
        self.ready_state = ReadyState.OPEN
        #: Does the session still send and deliver messages (``ready_state`` is OPEN)? A
        #: plain attribute: the hot paths read it for every packet.
        self.sending = True
        self.upgrade = UpgradeState.NONE
        self._queue: list[str | bytes] = []
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._upgrade_timeout = upgrade_timeout
        self._close_timeout = close_timeout
        self._ping_due: float | None = now + ping_interval
        self._pong_deadline: float | None = None
        self._upgrade_deadline: float | None = None
        self._close_deadline: float | None = None
        self._poll_parked = False
        self._post_active = False
        self._final_poll_packet = CLOSE_PACKET
        #: Polling only: packets per GET response, and packets that may wait for a GET.
        self.max_poll_packets = max_poll_packets
        self.max_poll_queue = max_poll_queue

    # -- outbound -------------------------------------------------------------------------------

    def send(self, item: str | bytes) -> bool:
        """Queue an encoded packet. Returns False (and drops it) unless the session is open."""
        if self.ready_state is not _OPEN:
            return False
        self._queue.append(item)
        return True

    def send_message(self, data: str) -> bool:
        """Queue a text message (``send`` of its MESSAGE packet)."""
        if self.ready_state is not _OPEN:
            return False
        self._queue.append(MESSAGE_PREFIX + data)
        return True

    def message_packet(self, data: str) -> str | None:
        """The packet of a text message for a transport that writes at once (websocket), or
        None when the session sends nothing more (closing or closed). Nothing is queued."""
        if self.ready_state is not _OPEN:
            return None
        return MESSAGE_PREFIX + data

    def check_poll_queue(self) -> SessionClosed | None:
        """Polling: the shell calls this after queuing. More than ``max_poll_queue`` packets
        waiting for a GET means the client stopped polling (or polls far too slowly): close at
        once, "transport error", as a websocket reader that falls ``max_write_buffer`` behind.
        Not on the hot path of a websocket session, which queues nothing.

        Not while a GET is parked (the client is polling; it takes its share at the end of the
        tick) or a POST is being handled (the replies to a batched POST are the client's own
        doing: 100 CONNECTs bring 200 packets back): a burst in one tick is no zombie. Nor
        while an upgrade is under way: polls are then answered with noops and the queue waits
        for the websocket (``max_write_buffer`` bounds it there); the upgrade timeout bounds how
        long that lasts."""
        if (
            len(self._queue) > self.max_poll_queue
            and not self._poll_parked
            and not self._post_active
            and self.transport is TransportName.POLLING
            and self.upgrade is UpgradeState.NONE
        ):
            return self.fail(DisconnectReason.TRANSPORT_ERROR)
        return None

    def has_pending(self) -> bool:
        return bool(self._queue)

    def take_pending(self) -> list[str | bytes]:
        """Everything queued, in order; the queue is empty afterwards."""
        queue, self._queue = self._queue, []
        return queue

    # -- inbound on the session's transport -----------------------------------------------------

    def message_text(self, text: str) -> str | None:
        """The fast path of ``receive`` for a text frame: the data of a MESSAGE packet on an open
        session. None for anything else, which then takes ``decode_packet`` and ``receive``
        (the same rules: a message is delivered only while the session is open)."""
        if text[:1] == MESSAGE_PREFIX and self.ready_state is _OPEN:
            return text[1:]
        return None

    def receive(self, packet: Packet, now: float) -> MessageReceived | SessionClosed | None:
        """A packet that arrived on the session's own transport (not on an upgrade candidate)."""
        if self.ready_state is not ReadyState.OPEN:
            return None  # the reference server ignores packets once the session is closing
        kind = packet.type
        if kind is PacketType.MESSAGE:
            return MessageReceived(packet.data)
        if kind is PacketType.PONG:
            self._pong_deadline = None
            self._ping_due = now + self._ping_interval
            return None
        if kind is PacketType.PING:
            # v4 reversed the heartbeat: a client never pings (except "2probe" on a candidate).
            return self.fail(DisconnectReason.TRANSPORT_ERROR)
        if kind is PacketType.CLOSE:
            self._final_poll_packet = NOOP_PACKET
            return self.fail(DisconnectReason.TRANSPORT_CLOSE)
        return None  # OPEN, UPGRADE and NOOP from a client carry nothing for us

    def fail(self, reason: DisconnectReason) -> SessionClosed | None:
        """Close at once (the client left, or broke the protocol); queued packets are dropped.

        A parked poll still gets a last answer: CLOSE, or NOOP when the client closed itself.
        """
        if self.ready_state is ReadyState.CLOSED:
            return None
        was_open = self.ready_state is ReadyState.OPEN
        self.ready_state = ReadyState.CLOSED
        self.sending = False
        self._queue.clear()
        self._clear_deadlines()
        return SessionClosed(reason) if was_open else None

    def close(
        self, now: float, reason: DisconnectReason = DisconnectReason.FORCED_CLOSE
    ) -> SessionClosed | None:
        """Close from the server side: what is queued still goes out, then CLOSE.

        Over websocket that happens at once (the shell drains the queue, then closes the socket).
        Over polling the session waits (at most ``close_timeout``) for a GET to carry it.
        """
        if self.ready_state is not ReadyState.OPEN:
            return None
        self.sending = False
        self._clear_deadlines()
        if self.transport is TransportName.POLLING:
            self.ready_state = ReadyState.CLOSING
            self._close_deadline = now + self._close_timeout
        else:
            self.ready_state = ReadyState.CLOSED
        return SessionClosed(reason)

    # -- polling --------------------------------------------------------------------------------

    def open_poll(self) -> SessionClosed | None:
        """A polling GET arrived. A second one while one is parked is a client error."""
        if self.transport is not TransportName.POLLING:
            raise LocalProtocolError("polling GET on a websocket session")
        if self._poll_parked:
            return self.fail(DisconnectReason.TRANSPORT_ERROR)
        self._poll_parked = True
        return None

    @property
    def poll_parked(self) -> bool:
        return self._poll_parked

    def poll_reply(self) -> list[str | bytes] | None:
        """What the parked GET should answer now, or None to keep it parked."""
        if not self._poll_parked:
            return None
        reply: list[str | bytes] | None = None
        if self.ready_state is ReadyState.CLOSED:
            reply = [self._final_poll_packet]
        elif self.transport is not TransportName.POLLING:
            reply = [NOOP_PACKET]  # upgraded: release the poll; the queue goes over websocket
        elif self._queue:
            # At most ``max_poll_packets`` per response; the rest goes with the next poll.
            # Closing: CLOSE waits for the next poll, as with the reference server (it drains
            # the queue, then closes on the next writable poll). A client handles a payload's
            # packets after its CLOSE (the official one dispatches Socket.IO packets a tick
            # later), so a DISCONNECT in the same payload would come too late.
            queue = self._queue
            limit = self.max_poll_packets
            if len(queue) > limit:
                reply, self._queue = queue[:limit], queue[limit:]
            else:
                reply = self.take_pending()
        elif self.ready_state is ReadyState.CLOSING:
            reply = [CLOSE_PACKET]
            self.ready_state = ReadyState.CLOSED
            self._clear_deadlines()
        elif self.upgrade is UpgradeState.PROBED:
            reply = [NOOP_PACKET]
        if reply is not None:
            self._poll_parked = False
        return reply

    def poll_aborted(self) -> SessionClosed | None:
        """The parked GET's connection went away before it was answered."""
        self._poll_parked = False
        return self.fail(DisconnectReason.TRANSPORT_ERROR)

    def open_post(self) -> SessionClosed | None:
        """A polling POST began. Two at once is a client error (packet order would be lost)."""
        if self._post_active:
            return self.fail(DisconnectReason.TRANSPORT_ERROR)
        self._post_active = True
        return None

    def close_post(self) -> None:
        self._post_active = False

    # -- upgrade --------------------------------------------------------------------------------

    def begin_upgrade(self, now: float) -> bool:
        """A websocket with this sid arrived. False: refuse it (upgraded, upgrading, or closed)."""
        if (
            self.ready_state is not ReadyState.OPEN
            or self.transport is not TransportName.POLLING
            or self.upgrade is not UpgradeState.NONE
        ):
            return False
        self.upgrade = UpgradeState.PROBING
        self._upgrade_deadline = now + self._upgrade_timeout
        return True

    def receive_on_candidate(
        self, packet: Packet
    ) -> ProbeAnswered | UpgradeCompleted | UpgradeAborted | None:
        """A packet on the candidate websocket: ``2probe``, then ``5``; anything else aborts.

        Once the session is closed every packet aborts: the reference server stops listening to
        the candidate when the session closes, so it answers no ``2probe`` either.
        """
        if self.upgrade not in (UpgradeState.PROBING, UpgradeState.PROBED):
            return None
        closed = self.ready_state is ReadyState.CLOSED
        if packet.type is PacketType.PING and packet.data == "probe" and not closed:
            self.upgrade = UpgradeState.PROBED
            return ProbeAnswered(PROBE_REPLY)
        if packet.type is PacketType.UPGRADE and not closed:
            self.upgrade = UpgradeState.DONE
            self.transport = TransportName.WEBSOCKET
            self._upgrade_deadline = None
            if self.ready_state is ReadyState.CLOSING:
                self.ready_state = ReadyState.CLOSED  # the shell drains the queue, then closes
                self._clear_deadlines()
            return UpgradeCompleted()
        self.abort_upgrade()
        return UpgradeAborted()

    def abort_upgrade(self) -> None:
        """The candidate went away or misbehaved; stay on polling."""
        if self.upgrade in (UpgradeState.PROBING, UpgradeState.PROBED):
            self.upgrade = UpgradeState.NONE
            self._upgrade_deadline = None

    # -- time -----------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest time at which ``handle_timeout`` has something to do."""
        best: float | None = None
        for deadline in (
            self._ping_due,
            self._pong_deadline,
            self._upgrade_deadline,
            self._close_deadline,
        ):
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        return best

    def handle_timeout(self, now: float) -> list[Event]:
        """Act on every deadline that has passed: ping, ping timeout, upgrade and close timeouts."""
        events: list[Event] = []
        if self._upgrade_deadline is not None and now >= self._upgrade_deadline:
            self.abort_upgrade()
            events.append(UpgradeAborted())
        if self._close_deadline is not None and now >= self._close_deadline:
            self.ready_state = ReadyState.CLOSED  # the client never came back for its CLOSE
            self._queue.clear()
            self._clear_deadlines()
        if self._pong_deadline is not None and now >= self._pong_deadline:
            closed = self.fail(DisconnectReason.PING_TIMEOUT)
            if closed is not None:
                events.append(closed)
        elif self._ping_due is not None and now >= self._ping_due:
            self._queue.append(PING_PACKET)
            self._ping_due = None
            self._pong_deadline = now + self._ping_timeout
        return events

    def _clear_deadlines(self) -> None:
        self._ping_due = self._pong_deadline = self._upgrade_deadline = None
        if self.ready_state is not ReadyState.CLOSING:
            self._close_deadline = None
