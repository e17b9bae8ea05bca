"""Stores: the BaseStore contract and its implementations, checkpointers, embeddings.

The Redis ones (``stores.redis``: its transport, asyncio, the embedded
server's launcher) load on first use of their names, so that importing the
library costs only what a process without Redis needs.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING, Any as _Any

from ._base import (
    BaseStore as BaseStore,
    GetOp as GetOp,
    Item as Item,
    ListNamespacesOp as ListNamespacesOp,
    MatchCondition as MatchCondition,
    Namespace as Namespace,
    Op as Op,
    PutOp as PutOp,
    Result as Result,
    SearchItem as SearchItem,
    SearchOp as SearchOp,
)
from ._batched import AsyncBatchedBaseStore as AsyncBatchedBaseStore
from ._cache import BaseCache as BaseCache, InMemoryCache as InMemoryCache
from ._checkpoint import (
    Checkpoint as Checkpoint,
    CheckpointSaver as CheckpointSaver,
    PendingRun as PendingRun,
    TaskRecord as TaskRecord,
    ThreadState as ThreadState,
)
from ._checkpoint_tuples import CheckpointTuple as CheckpointTuple
from ._errors import (
    CheckpointConflictError as CheckpointConflictError,
    CorruptCheckpointError as CorruptCheckpointError,
    EmbeddedRedisError as EmbeddedRedisError,
    FencedError as FencedError,
    InvalidFilterError as InvalidFilterError,
    InvalidIndexConfigError as InvalidIndexConfigError,
    InvalidNamespaceError as InvalidNamespaceError,
    InvalidValueError as InvalidValueError,
    SearchLimitError as SearchLimitError,
    StoreError as StoreError,
    StoreUnavailableError as StoreUnavailableError,
)
from ._field_paths import (
    get_text_at_path as get_text_at_path,
    tokenize_path as tokenize_path,
)
from ._filters import (
    Condition as Condition,
    Filter as Filter,
    parse_filter as parse_filter,
)
from ._memory_saver import MemorySaver as InMemorySaver, MemorySaver as MemorySaver
from ._memory_store import InMemoryStore as InMemoryStore
from .embeddings import (
    Embeddings as Embeddings,
    HashingEmbeddings as HashingEmbeddings,
    OpenAIEmbeddings as OpenAIEmbeddings,
    ensure_embeddings as ensure_embeddings,
)

if _TYPE_CHECKING:
    from .redis import (
        ClusterBackend as ClusterBackend,
        EmbeddedRedis as EmbeddedRedis,
        RedisCache as RedisCache,
        RedisSaver as RedisSaver,
        RedisStore as RedisStore,
        parse_lease as parse_lease,
    )


__all__ = [
    "AsyncBatchedBaseStore",
    "BaseCache",
    "BaseStore",
    "Checkpoint",
    "CheckpointConflictError",
    "CheckpointSaver",
    "CheckpointTuple",
    "ClusterBackend",
    "Condition",
    "CorruptCheckpointError",
    "EmbeddedRedis",
    "EmbeddedRedisError",
    "Embeddings",
    "FencedError",
    "Filter",
    "GetOp",
    "HashingEmbeddings",
    "InMemoryCache",
    "InMemorySaver",
    "InMemoryStore",
    "InvalidFilterError",
    "InvalidIndexConfigError",
    "InvalidNamespaceError",
    "InvalidValueError",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "MemorySaver",
    "Namespace",
    "Op",
    "OpenAIEmbeddings",
    "PendingRun",
    "PutOp",
    "RedisCache",
    "RedisSaver",
    "RedisStore",
    "Result",
    "SearchItem",
    "SearchLimitError",
    "SearchOp",
    "StoreError",
    "StoreUnavailableError",
    "TaskRecord",
    "ThreadState",
    "ensure_embeddings",
    "get_text_at_path",
    "parse_filter",
    "parse_lease",
    "tokenize_path",
]


def __getattr__(name: str) -> _Any:
    """The Redis names (``RedisSaver``...) on first use: importing ``stores.redis``."""
    if name in __all__:  # every other name of __all__ is bound above
        from . import redis

        value = getattr(redis, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stores' has no attribute {name!r}")
