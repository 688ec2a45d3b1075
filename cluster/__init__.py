"""Scale a Socket.IO server over CPU cores: a master that hands each connection to the worker
of its client's IP (sticky), and a bus that carries broadcasts and room operations between the
workers; and over hosts: the Redis adapters (``cluster/redis``, the ``[redis]`` extra)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .adapter import ClusterAdapter, RemoteSocket
from .metrics import Metrics, check_metrics_available, install_metrics
from .supervisor import ClusterConfig, Supervisor
from .worker import AppFactory

if TYPE_CHECKING:
    import sio
    from reactor import Reactor

__all__ = [
    "AppFactory",
    "ClusterAdapter",
    "ClusterConfig",
    "Metrics",
    "RemoteSocket",
    "Supervisor",
    "check_metrics_available",
    "check_redis_adapter_url",
    "install_metrics",
    "redis_adapter_factory",
]


def check_redis_adapter_url(url: str) -> None:
    """Raises ValueError for a URL no adapter takes, ImportError without the ``[redis]``
    extra (so that a server says so at once, not in every worker it forks)."""
    scheme = url.partition("://")[0]
    if "://" not in url or scheme not in ("redis", "redis-streams"):
        raise ValueError(f"{url!r}: use redis://HOST:PORT[/DB] or redis-streams://HOST:PORT[/DB]")
    import msgpack  # noqa: F401

    from . import redis  # noqa: F401  (hiredis)


def redis_adapter_factory(url: str, reactor: Reactor) -> Callable[[sio.Namespace], sio.Adapter]:
    """The adapter of ``--adapter URL``: ``redis://HOST:PORT[/DB]`` for the pub/sub adapter
    (Node's ``@socket.io/redis-adapter`` format), ``redis-streams://HOST:PORT[/DB]`` for the
    streams adapter (``@socket.io/redis-streams-adapter``). Its connections run on ``reactor``.

    Raises:
        ValueError: another scheme.
        ImportError: the ``[redis]`` extra is not installed.
    """
    from .redis import adapter_factory_for_url  # the [redis] extra, only when asked for

    return adapter_factory_for_url(url, reactor)
