"""A worker process: one reactor serving the connections the master hands over, joined to the
other workers by the bus. It never outlives the master: the bus closing (or the parent-death
signal) stops it."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
from collections.abc import Callable

import sio
from reactor import Reactor

from .adapter import ClusterAdapter, cluster_adapter_factory
from .bus import WorkerBus
from .fdpass import FdReceiver
from .metrics import install_metrics

__all__ = ["AppFactory", "run_worker"]

log = logging.getLogger(__name__)

#: Builds the application in a worker: ``factory(reactor, adapter_factory, worker_id)``.
AppFactory = Callable[[Reactor, Callable[[sio.Namespace], ClusterAdapter], int], sio.Server]

#: Seconds a worker gives its clients to say goodbye when asked to stop.
STOP_GRACE = 3.0
#: Seconds a worker whose master vanished keeps going (to close its clients) before it exits.
ORPHAN_GRACE = 0.5

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: get SIGTERM when the master dies, even if it is SIGKILLed."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the bus closing still stops the worker


def run_worker(
    worker_id: int,
    fd_channel: socket.socket,
    bus_socket: socket.socket,
    app_factory: AppFactory,
    master_pid: int,
    *,
    metrics: bool = False,
) -> int:
    # Ctrl-C reaches the whole process group; the master decides what happens to workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    if os.getppid() != master_pid:
        return 1  # the master died before prctl took effect
    reactor = Reactor()
    stopping = False

    def stop(grace: float) -> None:
        """Close the clients; stop once they are all closed, or after ``grace`` seconds."""
        nonlocal stopping
        if stopping:
            return
        stopping = True
        reactor.call_later(grace, reactor.stop)
        io.close(on_closed=reactor.stop)

    def master_gone() -> None:
        if not stopping:
            log.warning("worker %d: the master is gone; stopping", worker_id)
        stop(ORPHAN_GRACE)

    bus = WorkerBus(reactor, bus_socket, worker_id, master_gone)
    io = app_factory(reactor, cluster_adapter_factory(bus), worker_id)
    if metrics:
        install_metrics(io, bus=bus, worker=worker_id)
    FdReceiver(reactor, fd_channel, io.eio.adopt, master_gone)
    reactor.add_signal_handler(signal.SIGTERM, lambda: stop(STOP_GRACE))
    log.debug("worker %d (pid %d) ready", worker_id, os.getpid())
    reactor.run()
    return 0
