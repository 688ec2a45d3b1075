"""``io.to(room).except_(other).volatile.emit(...)``: who gets a broadcast, and how."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .adapter import NO_FLAGS, Adapter, BroadcastFlags, BroadcastOptions
from .protocol.packet import RESERVED_EVENTS, Packet, PacketType

if TYPE_CHECKING:
    from .socket import Socket

__all__ = ["BroadcastOperator", "BroadcastShortcuts", "rooms_of"]


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

    @property
    def options(self) -> BroadcastOptions:
        return BroadcastOptions(self._rooms, self._except, self._flags)

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` (bytes anywhere become attachments) to the selection."""
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        packet = Packet(PacketType.EVENT, self._adapter.nsp.name, [event, *args])
        self._adapter.broadcast(packet, self.options)

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
