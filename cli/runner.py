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


def run_until_signalled(
    reactor: Reactor, close: Callable[[], None], is_closed: Callable[[], bool]
) -> None:
    """Run ``reactor``; on SIGINT/SIGTERM ``close()``, then stop once ``is_closed()`` or later."""
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if stopping:
            reactor.stop()  # a second signal: stop now
            return
        stopping = True
        log.info("shutting down")
        close()
        deadline = reactor.time() + SHUTDOWN_GRACE

        def check() -> None:
            if is_closed() or reactor.time() >= deadline:
                reactor.stop()
            else:
                reactor.call_later(0.02, check)

        reactor.call_soon(check)

    reactor.add_signal_handler(signal.SIGINT, stop)
    reactor.add_signal_handler(signal.SIGTERM, stop)
    reactor.run()
