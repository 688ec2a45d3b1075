"""The fork cluster's recovery store, sans-IO: what lets a client of a killed worker get its
session back, and every packet it missed, from the respawned one.

It lives in the master (``cluster/supervisor.py`` feeds it), because the master already relays
every broadcast between workers and outlives them all. So:

- **The packet log.** A worker sends every recoverable broadcast (its offset in the head)
  through the master *before* delivering it to its own clients, and delivers it only once the
  master confirms it (``Control.LOGGED``). The master logs it, relays it to the others, and
  confirms. Every worker therefore delivers in the log's order, and a packet no client has
  been sent is in the log: the log after a client's last offset is exactly what it missed.
- **Sessions, kept eagerly.** A worker reports each socket's session when it joins, every
  change of its rooms (with its ``data``), and when it leaves (``Recovery.SESSION``). A session
  is restorable once its socket left for a recoverable reason, or once its worker died:
  ``worker_died`` keeps the sessions that worker held, as they were last reported.
- **Restoring.** ``restore`` answers a worker's ``Recovery.RESTORE``: the session, once, and the
  missed packets up to now. Packets logged after the answer reach the worker after it on the
  same ordered link, when the socket is back in its rooms: each is delivered once, in the
  replay or live.

What a killed worker had not yet handed to the master is lost: the broadcasts and session
changes still in its process (written in its tick but not yet flushed to the bus). A worker
flushes its bus before the acknowledgement of the event that caused them (writes leave in the
order they were made), so a client's event whose acknowledgement it saw is in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sio.protocol import RecoveryOptions, RecoveryStore, Restored, Session

__all__ = ["ClusterRecoveryStore", "LiveSession"]


@dataclass(slots=True)
class LiveSession:
    """A connected socket, as its worker last reported it."""

    session: Session
    worker: int


class ClusterRecoveryStore:
    """Per namespace: a ``RecoveryStore`` (log + kept sessions) and the live sessions."""

    def __init__(self, options: RecoveryOptions) -> None:
        self.options = options
        self._stores: dict[str, RecoveryStore] = {}
        #: (nsp, sid) -> live session
        self._live: dict[tuple[str, str], LiveSession] = {}

    def store(self, nsp: str) -> RecoveryStore:
        store = self._stores.get(nsp)
        if store is None:
            store = self._stores[nsp] = RecoveryStore(self.options, offset_prefix="")
        return store

    @property
    def live_count(self) -> int:
        return len(self._live)

    # -- from the workers -----------------------------------------------------------------------

    def log(self, nsp: str, head: dict[str, Any], messages: list[str | bytes], now: float) -> None:
        """A broadcast's frame (``head``: ``{opts, offset}``) on its way through the master."""
        offset = head.get("offset")
        if not isinstance(offset, str):
            return
        opts = head.get("opts")
        opts = opts if isinstance(opts, dict) else {}
        rooms = _rooms(opts.get("rooms"))
        except_rooms = _rooms(opts.get("except"))
        self.store(nsp).log(offset, rooms, except_rooms, messages, now)

    def on_session(self, worker: int, nsp: str, update: dict[str, Any], now: float) -> None:
        """A worker's ``Recovery.SESSION`` update (malformed ones are ignored)."""
        sid = update.get("sid")
        if not isinstance(sid, str):
            return
        key = (nsp, sid)
        op = update.get("op")
        if op == "open":
            pid = update.get("pid")
            if isinstance(pid, str):
                session = Session(sid, pid, _room_list(update.get("rooms")), update.get("data"))
                self._live[key] = LiveSession(session, worker)
        elif op == "rooms":
            live = self._live.get(key)
            if live is not None and live.worker == worker:
                live.session.rooms = _room_list(update.get("rooms"))
                live.session.data = update.get("data")
        elif op == "end":
            live = self._live.get(key)
            if live is not None and live.worker == worker:
                del self._live[key]
            pid = update.get("pid")
            if update.get("keep") and isinstance(pid, str):
                session = Session(sid, pid, _room_list(update.get("rooms")), update.get("data"))
                self.store(nsp).persist(session, now)

    def worker_died(self, worker: int, now: float) -> int:
        """Keep every session worker ``worker`` held; returns how many."""
        gone = [key for key, live in self._live.items() if live.worker == worker]
        for key in gone:
            live = self._live.pop(key)
            self.store(key[0]).persist(live.session, now)
        return len(gone)

    def restore(self, nsp: str, pid: str, offset: str, now: float) -> Restored | None:
        store = self._stores.get(nsp)
        if store is None:
            return None
        return store.restore(pid, offset, now)

    def prune(self, now: float) -> None:
        for store in self._stores.values():
            store.prune(now)


def _rooms(value: Any) -> frozenset[str]:
    if isinstance(value, list):
        return frozenset(str(room) for room in value)
    return frozenset()


def _room_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(room) for room in value]
    return []
