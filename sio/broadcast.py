"""``io.to(room).except_(other).volatile.emit(...)``: who gets a broadcast, and how."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .adapter import NO_FLAGS, Adapter, BroadcastFlags, BroadcastOptions
from .errors import AckTimeoutError
from .events import call_safely
from .protocol.packet import RESERVED_EVENTS, Packet, PacketType

if TYPE_CHECKING:
    from .socket import Socket

__all__ = ["BroadcastAcks", "BroadcastOperator", "BroadcastShortcuts", "rooms_of"]

#: ``callback(error, responses)``: every recipient's acknowledgement, or a timeout error with
#: those that came in time.
AcksCallback = Callable[[BaseException | None, list[Any]], None]


def rooms_of(rooms: str | Iterable[str]) -> frozenset[str]:
    return frozenset((rooms,)) if isinstance(rooms, str) else frozenset(rooms)


class BroadcastOperator:
    """An immutable selection of recipients; every chained call returns a new operator."""

    __slots__ = ("_adapter", "_except", "_flags", "_rooms")

    def __init__(
        self,
        adapter: Adapter,
        rooms: frozenset[str] = frozenset(),
        except_rooms: frozenset[str] = frozenset(),
        flags: BroadcastFlags = NO_FLAGS,
    ) -> None:
        self._adapter = adapter
        self._rooms = rooms
        self._except = except_rooms
        self._flags = flags

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Only sockets in these rooms (in any of them, each socket once)."""
        return BroadcastOperator(
            self._adapter, self._rooms | rooms_of(rooms), self._except, self._flags
        )

    in_ = to

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Not the sockets in these rooms."""
        return BroadcastOperator(
            self._adapter, self._rooms, self._except | rooms_of(rooms), self._flags
        )

    @property
    def local(self) -> BroadcastOperator:
        """Only the sockets of this process."""
        return BroadcastOperator(
            self._adapter, self._rooms, self._except, self._flags._replace(local=True)
        )

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the packet for sockets that cannot take it right now."""
        return BroadcastOperator(
            self._adapter, self._rooms, self._except, self._flags._replace(volatile=True)
        )

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Wait at most ``seconds`` for the acknowledgements of ``emit(..., callback=...)``."""
        return BroadcastOperator(
            self._adapter, self._rooms, self._except, self._flags._replace(timeout=seconds)
        )

    @property
    def options(self) -> BroadcastOptions:
        return BroadcastOptions(self._rooms, self._except, self._flags)

    def emit(self, event: str, *args: Any, callback: AcksCallback | None = None) -> None:
        """Send ``event`` with ``args`` (bytes anywhere become attachments) to the selection.

        With ``callback`` (and a ``timeout``), every recipient is asked to acknowledge, in every
        process of the cluster: ``callback(None, responses)`` once all did (each response is
        the first argument of one acknowledgement), or ``callback(AckTimeoutError(),
        responses)`` with those that came in time.
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        packet = Packet(PacketType.EVENT, self._adapter.nsp.name, [event, *args])
        if callback is None:
            self._adapter.broadcast(packet, self.options)
            return
        if self._flags.timeout is None:
            raise ValueError("a broadcast with acknowledgements needs a timeout: .timeout(s)")
        BroadcastAcks(self._adapter, packet, self.options, callback)

    send = emit

    def fetch_sockets(
        self, callback: Callable[[list[Any], BaseException | None], None] | None = None
    ) -> list[Socket] | None:
        """The selected sockets.

        Without ``callback``: this process's sockets, returned at once. With ``callback``: every
        process's (the cluster adapter asks the others), delivered as ``callback(sockets, error)``.
        """
        if callback is None:
            return self._adapter.local_sockets(self.options)
        self._adapter.fetch_sockets(self.options, callback)
        return None

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the selected sockets join ``rooms``."""
        self._adapter.add_sockets(self.options, rooms_of(rooms))

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the selected sockets leave ``rooms``."""
        self._adapter.del_sockets(self.options, rooms_of(rooms))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets (``close``: their whole connection)."""
        self._adapter.disconnect_sockets(self.options, close)


class BroadcastShortcuts:
    """``to`` / ``in_`` / ``except_`` / ``local`` starting from ``_operator()`` (a namespace's
    selects all its sockets; a socket's, every socket but itself)."""

    __slots__ = ()

    def _operator(self) -> BroadcastOperator:
        raise NotImplementedError

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """The sockets in these rooms (each once)."""
        return self._operator().to(rooms)

    def in_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Same as ``to``."""
        return self._operator().to(rooms)

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Not the sockets in these rooms."""
        return self._operator().except_(rooms)

    @property
    def local(self) -> BroadcastOperator:
        """Only the sockets of this process."""
        return self._operator().local


class BroadcastAcks:
    """Collects the acknowledgements of one broadcast, as the reference server does: every
    server reports how many of its clients got the packet, then each client's answer comes.
    Complete when every server reported and every counted client answered."""

    __slots__ = (
        "_ack_id",
        "_adapter",
        "_callback",
        "_clients",
        "_done",
        "_servers",
        "_servers_expected",
        "_timer",
        "responses",
    )

    def __init__(
        self,
        adapter: Adapter,
        packet: Packet,
        opts: BroadcastOptions,
        callback: AcksCallback,
    ) -> None:
        assert opts.flags.timeout is not None
        self._adapter = adapter
        self._callback = callback
        self._done = False
        self._servers = 0
        self._clients = 0
        self.responses: list[Any] = []
        self._servers_expected = 1 if opts.flags.local else adapter.server_count()
        self._timer = adapter.nsp.server.reactor.call_later(opts.flags.timeout, self._expire)
        self._ack_id: int | None = None
        self._ack_id = adapter.broadcast_with_ack(packet, opts, self._client_count, self._ack)
        self._check()

    def _client_count(self, count: int) -> None:
        self._servers += 1
        self._clients += count
        self._check()

    def _ack(self, response: Any) -> None:
        if not self._done:
            self.responses.append(response)
            self._check()

    def _check(self) -> None:
        if (
            not self._done
            and self._servers == self._servers_expected
            and len(self.responses) == self._clients
        ):
            self._done = True
            self._timer.cancel()
            self._adapter.nsp.server.stats.handler_errors += call_safely(
                self._callback, None, self.responses
            )

    def _expire(self) -> None:
        if self._done:
            return
        self._done = True
        if self._ack_id is not None:
            self._adapter.forget_acks(self._ack_id)
        self._adapter.nsp.server.stats.handler_errors += call_safely(
            self._callback, AckTimeoutError(), self.responses
        )
