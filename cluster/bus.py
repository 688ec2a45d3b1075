"""The worker's end of the cluster bus: frames to and from the master, which relays them.

Requests that expect answers from the other workers (fetch_sockets, server-side emits with
acks) are tracked here: each waits for the workers that were alive when it was sent, and ends
with what it has (and an error) when one of them dies or when it times out. Never a hang.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reactor import Reactor, Stream, TimerHandle

from .frames import (
    ALL,
    MASTER,
    Frame,
    FrameDecoder,
    FrameError,
    Kind,
    decode_json,
    encode_frame,
    encode_json,
)

if TYPE_CHECKING:
    from .adapter import ClusterAdapter

__all__ = ["ClusterRequestError", "WorkerBus"]

log = logging.getLogger(__name__)

#: Bytes the bus may have unsent before the link is considered broken.
BUS_MAX_BUFFER = 256 * 1024 * 1024
#: Seconds a cluster-wide request waits for the other workers.
REQUEST_TIMEOUT = 5.0

Done = Callable[[list[Any], BaseException | None], None]


class ClusterRequestError(Exception):
    """A cluster-wide request ended without every worker's answer (a worker died, timeout)."""


class _Pending:
    __slots__ = ("callback", "errors", "responses", "timer", "waiting")

    def __init__(self, waiting: set[int], callback: Done, timer: TimerHandle) -> None:
        self.waiting = waiting
        self.callback = callback
        self.timer = timer
        self.responses: list[Any] = []
        self.errors: list[str] = []


class WorkerBus:
    """Frames between this worker and the others (through the master)."""

    def __init__(
        self,
        reactor: Reactor,
        sock: socket.socket,
        worker_id: int,
        on_eof: Callable[[], None],
    ) -> None:
        self.reactor = reactor
        self.worker_id = worker_id
        #: The other live workers, as the master last told us.
        self.peers: set[int] = set()
        self.adapters: dict[str, ClusterAdapter] = {}
        self._on_eof = on_eof
        self._decoder = FrameDecoder()
        self._requests: dict[int, _Pending] = {}
        self._request_ids = itertools.count(1)
        self.stream = Stream(reactor, sock, self, max_buffer=BUS_MAX_BUFFER)
        self.stream.start()

    # -- sending --------------------------------------------------------------------------------

    def publish(self, kind: Kind, payload: bytes, target: int = ALL) -> None:
        if target == ALL and not self.peers:
            return  # nobody to tell
        self.stream.write(encode_frame(kind, self.worker_id, target, payload))

    def request(
        self, kind: Kind, body: dict[str, Any], callback: Done, timeout: float = REQUEST_TIMEOUT
    ) -> None:
        """Send ``body`` to every other worker; ``callback(responses, error)`` once all answered
        (or one died, or ``timeout`` passed)."""
        if not self.peers:
            callback([], None)
            return
        request_id = next(self._request_ids)
        timer = self.reactor.call_later(timeout, self._expire, request_id)
        self._requests[request_id] = _Pending(set(self.peers), callback, timer)
        self.publish(kind, encode_json({**body, "request_id": request_id}))

    def respond(self, kind: Kind, target: int, request_id: int, body: dict[str, Any]) -> None:
        self.publish(kind, encode_json({**body, "request_id": request_id}), target)

    # -- receiving ------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
        except FrameError as exc:
            log.error("broken cluster bus: %s", exc)
            self.stream.abort(exc)
            return
        for frame, _raw in frames:
            try:
                self._dispatch(frame)
            except FrameError as exc:
                log.error("bad frame %s from worker %s: %s", frame.kind, frame.source, exc)
            except Exception:
                log.exception("error handling frame %s from worker %s", frame.kind, frame.source)

    def eof_received(self) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        for request_id in list(self._requests):
            self._finish(request_id, "the master went away")
        self._on_eof()

    def _dispatch(self, frame: Frame) -> None:
        kind = frame.kind
        if frame.source == MASTER:
            self._from_master(kind, frame.payload)
            return
        if kind == Kind.FETCH_SOCKETS_RESPONSE or kind == Kind.SERVER_SIDE_EMIT_RESPONSE:
            body = decode_json(frame.payload)
            pending = self._requests.get(body.get("request_id"))
            if pending is not None:
                pending.responses.extend(body.get("items", []))
                pending.waiting.discard(frame.source)
                if not pending.waiting:
                    self._finish(body["request_id"], None)
            return
        adapter = self.adapters.get(_namespace_of(kind, frame.payload))
        if adapter is not None:
            adapter.on_bus_frame(kind, frame.source, frame.payload)
        elif kind == Kind.FETCH_SOCKETS or kind == Kind.SERVER_SIDE_EMIT:
            # Not a namespace of ours (a dynamic one no client of ours joined): nothing to
            # report, but the requester waits for every worker, so say so at once.
            body = decode_json(frame.payload)
            if "request_id" in body:
                response = (
                    Kind.FETCH_SOCKETS_RESPONSE
                    if kind == Kind.FETCH_SOCKETS
                    else Kind.SERVER_SIDE_EMIT_RESPONSE
                )
                self.respond(response, frame.source, int(body["request_id"]), {"items": []})

    def _from_master(self, kind: int, payload: bytes) -> None:
        body = decode_json(payload)
        if kind == Kind.HELLO:
            self.peers = {int(w) for w in body.get("workers", []) if int(w) != self.worker_id}
        elif kind == Kind.WORKER_UP:
            self.peers.add(int(body["worker"]))
        elif kind == Kind.WORKER_DOWN:
            worker = int(body["worker"])
            self.peers.discard(worker)
            for request_id, pending in list(self._requests.items()):
                if worker in pending.waiting:
                    pending.waiting.discard(worker)
                    pending.errors.append(f"worker {worker} died")
                    if not pending.waiting:
                        self._finish(request_id, None)

    def _expire(self, request_id: int) -> None:
        pending = self._requests.get(request_id)
        if pending is not None:
            waiting = ", ".join(str(w) for w in sorted(pending.waiting))
            self._finish(request_id, f"no answer from worker(s) {waiting}")

    def _finish(self, request_id: int, error: str | None) -> None:
        pending = self._requests.pop(request_id, None)
        if pending is None:
            return
        pending.timer.cancel()
        if error is not None:
            pending.errors.append(error)
        failure = ClusterRequestError("; ".join(pending.errors)) if pending.errors else None
        try:
            pending.callback(pending.responses, failure)
        except Exception:
            log.exception("error in a cluster request callback")


def _namespace_of(kind: int, payload: bytes) -> str:
    if kind == Kind.BROADCAST:
        from .frames import decode_broadcast

        header, _ = decode_broadcast(payload)
        return str(header.get("nsp", "/"))
    body = decode_json(payload)
    return str(body.get("nsp", "/"))
