"""Stores: the BaseStore contract and its implementations, checkpointers, embeddings."""

from ._base import (
    BaseStore as BaseStore,
    GetOp as GetOp,
    Item as Item,
    ListNamespacesOp as ListNamespacesOp,
    Namespace as Namespace,
    Op as Op,
    PutOp as PutOp,
    Result as Result,
    SearchItem as SearchItem,
    SearchOp as SearchOp,
)
from ._checkpoint import (
    Checkpoint as Checkpoint,
    CheckpointSaver as CheckpointSaver,
    PendingRun as PendingRun,
    TaskRecord as TaskRecord,
    ThreadState as ThreadState,
)
from ._errors import (
    CheckpointConflictError as CheckpointConflictError,
    CorruptCheckpointError as CorruptCheckpointError,
    EmbeddedRedisError as EmbeddedRedisError,
    FencedError as FencedError,
    InvalidFilterError as InvalidFilterError,
    InvalidIndexConfigError as InvalidIndexConfigError,
    InvalidNamespaceError as InvalidNamespaceError,
    InvalidValueError as InvalidValueError,
    StoreError as StoreError,
    StoreUnavailableError as StoreUnavailableError,
)
from ._filters import (
    Condition as Condition,
    Filter as Filter,
    parse_filter as parse_filter,
)
from ._memory_saver import MemorySaver as MemorySaver
from ._memory_store import InMemoryStore as InMemoryStore
from .embeddings import (
    Embeddings as Embeddings,
    HashingEmbeddings as HashingEmbeddings,
    OpenAIEmbeddings as OpenAIEmbeddings,
    ensure_embeddings as ensure_embeddings,
)
from .redis import (
    ClusterBackend as ClusterBackend,
    EmbeddedRedis as EmbeddedRedis,
    RedisSaver as RedisSaver,
    RedisStore as RedisStore,
    parse_lease as parse_lease,
)

__all__ = [
    "BaseStore",
    "Checkpoint",
    "CheckpointConflictError",
    "CheckpointSaver",
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
    "InMemoryStore",
    "InvalidFilterError",
    "InvalidIndexConfigError",
    "InvalidNamespaceError",
    "InvalidValueError",
    "Item",
    "ListNamespacesOp",
    "MemorySaver",
    "Namespace",
    "Op",
    "OpenAIEmbeddings",
    "PendingRun",
    "PutOp",
    "RedisSaver",
    "RedisStore",
    "Result",
    "SearchItem",
    "SearchOp",
    "StoreError",
    "StoreUnavailableError",
    "TaskRecord",
    "ThreadState",
    "ensure_embeddings",
    "parse_filter",
    "parse_lease",
]
