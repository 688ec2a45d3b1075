"""The Redis adapters, in the wire formats of Node's ``@socket.io/redis-adapter`` (pub/sub) and
``@socket.io/redis-streams-adapter`` (streams), on the reactor (the ``[redis]`` extra).

This module is the package's public surface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .client import RedisClient, RedisError, RedisSubscriber, RedisUnavailable, parse_redis_url

if TYPE_CHECKING:
    import sio
    from reactor import Reactor

__all__ = [
    "SCHEMES",
    "RedisClient",
    "RedisError",
    "RedisSubscriber",
    "RedisUnavailable",
    "adapter_factory_for_url",
    "parse_redis_url",
]

#: ``--adapter`` URL schemes and the adapter each selects.
SCHEMES = {"redis": "pub/sub", "redis-streams": "streams"}


def adapter_factory_for_url(url: str, reactor: Reactor) -> Callable[[sio.Namespace], sio.Adapter]:
    """See ``cluster.redis_adapter_factory``."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ValueError(f"unknown adapter URL {url!r}: use redis:// or redis-streams://")
    redis_url = "redis://" + rest
    if scheme == "redis":
        from .pubsub import redis_pubsub_adapter_factory

        return redis_pubsub_adapter_factory(reactor, redis_url)
    from .streams import redis_streams_adapter_factory

    return redis_streams_adapter_factory(reactor, redis_url)
