"""Everything that speaks to Redis: the only package that imports a Redis client.

Connection and wire protocol, the one pipeline every command goes through,
the embedded server, ``RedisSaver`` (one stream per thread) and
``RedisStore`` (a RediSearch index), ``RedisCache`` (task results).
"""

from ._cache import RedisCache as RedisCache
from ._cluster_backend import (
    ClusterBackend as ClusterBackend,
    parse_lease as parse_lease,
)
from ._embedded import EmbeddedRedis as EmbeddedRedis
from ._saver import RedisSaver as RedisSaver
from ._store import RedisStore as RedisStore

__all__ = [
    "ClusterBackend",
    "EmbeddedRedis",
    "RedisCache",
    "RedisSaver",
    "RedisStore",
    "parse_lease",
]
