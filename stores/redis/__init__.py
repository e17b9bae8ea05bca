"""Everything that speaks to Redis: the only package that imports a Redis client.

Connection and wire protocol, the one pipeline every command goes through,
the embedded server, ``RedisSaver`` (one stream per thread) and
``RedisStore`` (a RediSearch index), ``RedisCache`` (task results).
``EmbeddedRedis`` loads on first use (its launcher imports subprocess,
tempfile and shutil), as does the default server of a url-less client.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING, Any as _Any

from ._cache import RedisCache as RedisCache
from ._cluster_backend import (
    ClusterBackend as ClusterBackend,
    parse_lease as parse_lease,
)
from ._saver import RedisSaver as RedisSaver
from ._store import RedisStore as RedisStore

if _TYPE_CHECKING:
    from ._embedded import EmbeddedRedis as EmbeddedRedis

__all__ = [
    "ClusterBackend",
    "EmbeddedRedis",
    "RedisCache",
    "RedisSaver",
    "RedisStore",
    "parse_lease",
]


def __getattr__(name: str) -> _Any:
    """``EmbeddedRedis`` on first use."""
    if name == "EmbeddedRedis":
        from ._embedded import EmbeddedRedis

        return EmbeddedRedis
    raise AttributeError(f"module 'stores.redis' has no attribute {name!r}")
