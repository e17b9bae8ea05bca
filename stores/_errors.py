"""Errors raised by the stores package.

StoreError
├── StoreUnavailableError         Redis unreachable, or the embedded one failed
│   └── EmbeddedRedisError        the embedded redis-server could not start
├── InvalidNamespaceError         (also ValueError) a bad namespace or key
├── InvalidValueError             (also TypeError) a store value that is not a JSON dict
├── InvalidFilterError            (also ValueError) a filter that cannot be parsed
├── InvalidIndexConfigError       (also ValueError) a bad index configuration, or
│                                 one that differs from the existing index's
├── SearchLimitError              (also ValueError) a search past what the backend
│                                 can reach in one query (RediSearch MAXSEARCHRESULTS)
├── CheckpointConflictError       a fenced write lost to a newer writer
│   └── FencedError               a cluster member's lease epoch was superseded
└── CorruptCheckpointError        bytes in the checkpointer failed to decode
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error raised by a store or checkpointer."""


class StoreUnavailableError(StoreError):
    """The backing service (Redis) cannot be reached; check REDIS_URL or the server."""


class EmbeddedRedisError(StoreUnavailableError):
    """The embedded redis-server could not be started; the message holds its log tail."""


class InvalidNamespaceError(StoreError, ValueError):
    """A namespace or key is malformed; namespaces are non-empty tuples of non-empty strings without '.'."""


class InvalidValueError(StoreError, TypeError):
    """A store value is not a dict of JSON-serializable data."""


class InvalidFilterError(StoreError, ValueError):
    """A search filter is malformed; use exact values or {'$eq'|'$ne'|'$gt'|'$gte'|'$lt'|'$lte': x}."""


class InvalidIndexConfigError(StoreError, ValueError):
    """An index configuration is malformed (it needs 'dims' and 'embed'), or differs from the index already in Redis."""


class SearchLimitError(StoreError, ValueError):
    """A search needs more results than one backend query can reach; narrow it, or declare its filter fields filterable."""


class CheckpointConflictError(StoreError):
    """A newer writer moved the thread on; reload the thread and retry the run."""


class FencedError(CheckpointConflictError):
    """A clustered commit was refused: another member took the thread's shard since."""


class CorruptCheckpointError(StoreError):
    """Checkpoint bytes failed to decode; the stored data is damaged or from an unknown version."""
