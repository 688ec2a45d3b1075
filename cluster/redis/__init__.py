"""The Redis adapters, in the wire formats of Node's ``@socket.io/redis-adapter`` (pub/sub) and
``@socket.io/redis-streams-adapter`` (streams), on the reactor (the ``[redis]`` extra).

This module is the package's public surface.
"""

from __future__ import annotations

from .client import RedisClient, RedisError, RedisSubscriber, RedisUnavailable, parse_redis_url

__all__ = [
    "RedisClient",
    "RedisError",
    "RedisSubscriber",
    "RedisUnavailable",
    "parse_redis_url",
]
