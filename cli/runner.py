"""Run a server on a reactor in the foreground until SIGINT/SIGTERM, then stop cleanly."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

from reactor import Reactor

__all__ = ["run_until_signalled"]

log = logging.getLogger(__name__)

#: Seconds a stopping server waits for its sessions to say goodbye before it exits anyway.
SHUTDOWN_GRACE = 2.0


def run_until_signalled(reactor: Reactor, close: Callable[[Callable[[], None]], None]) -> None:
    """Run ``reactor``; on SIGINT/SIGTERM ``close(on_closed)``, then stop once it calls
    ``on_closed`` (everything is closed), or ``SHUTDOWN_GRACE`` seconds later."""
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if stopping:
            reactor.stop()  # a second signal: stop now
            return
        stopping = True
        log.info("shutting down")
        reactor.call_later(SHUTDOWN_GRACE, reactor.stop)
        close(reactor.stop)

    reactor.add_signal_handler(signal.SIGINT, stop)
    reactor.add_signal_handler(signal.SIGTERM, stop)
    reactor.run()
