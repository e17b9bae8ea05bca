"""The functional API: entrypoint, task, Runtime, interrupts, messages."""

from typing import Any as _Any

from actors import (
    ActorDeadError as ActorDeadError,
    ActorError as ActorError,
    MailboxFullError as MailboxFullError,
    RunCancelledError as RunCancelledError,
    ThreadBusyError as ThreadBusyError,
)
from stores import (
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

from ._add_messages import add_messages as add_messages
from ._cluster_stats import ClusterStats as ClusterStats
from ._context import (
    get_config as get_config,
    get_store as get_store,
    get_stream_writer as get_stream_writer,
)
from ._entrypoint import Entrypoint as Entrypoint
from ._entrypoint_decorator import entrypoint as entrypoint
from ._errors import (
    ChatModelError as ChatModelError,
    NothingToResumeError as NothingToResumeError,
    RemoteError as RemoteError,
    ReplayDivergedError as ReplayDivergedError,
    RunError as RunError,
    SerializationError as SerializationError,
    TaskTimeoutError as TaskTimeoutError,
)
from ._host import Runtime as Runtime, RuntimeStats as RuntimeStats
from ._injected import (
    ExecutionInfo as ExecutionInfo,
    InjectedRuntime as InjectedRuntime,
    StreamWriter as StreamWriter,
    get_runtime as get_runtime,
)
from ._langchain import from_langchain as from_langchain, to_langchain as to_langchain
from ._message_coercion import coerce_message as coerce_message
from ._messages import (
    MESSAGE_TYPES as MESSAGE_TYPES,
    REMOVE_ALL_MESSAGES as REMOVE_ALL_MESSAGES,
    AIMessage as AIMessage,
    AIMessageChunk as AIMessageChunk,
    AnyMessage as AnyMessage,
    BaseMessage as BaseMessage,
    HumanMessage as HumanMessage,
    RemoveMessage as RemoveMessage,
    SystemMessage as SystemMessage,
    ToolMessage as ToolMessage,
    message_chunk_to_message as message_chunk_to_message,
)
from ._propagation import (
    extract_trace_context as extract_trace_context,
    inject_trace_context as inject_trace_context,
    trace_context as trace_context,
)
from ._run_state import (
    Durability as Durability,
    GraphInterrupt as GraphInterrupt,
    interrupt as interrupt,
)
from ._task import (
    RetryPolicy as RetryPolicy,
    TaskFunction as TaskFunction,
    TaskFuture as TaskFuture,
    task as task,
)
from ._task_options import CachePolicy as CachePolicy
from ._tracing import Tracing as Tracing
from ._types import (
    Command as Command,
    EntrypointFinal as EntrypointFinal,
    Interrupt as Interrupt,
    StateSnapshot as StateSnapshot,
)

__all__ = [
    "MESSAGE_TYPES",
    "REMOVE_ALL_MESSAGES",
    "AIMessage",
    "AIMessageChunk",
    "ActorDeadError",
    "ActorError",
    "AnyMessage",
    "BaseMessage",
    "CachePolicy",
    "ChatModelError",
    "CheckpointConflictError",
    "ClusterStats",
    "Command",
    "CorruptCheckpointError",
    "Durability",
    "EmbeddedRedisError",
    "Entrypoint",
    "EntrypointFinal",
    "ExecutionInfo",
    "FencedError",
    "GraphInterrupt",
    "HumanMessage",
    "InjectedRuntime",
    "Interrupt",
    "InvalidFilterError",
    "InvalidIndexConfigError",
    "InvalidNamespaceError",
    "InvalidValueError",
    "MailboxFullError",
    "NothingToResumeError",
    "RemoteError",
    "RemoveMessage",
    "ReplayDivergedError",
    "RetryPolicy",
    "RunCancelledError",
    "RunError",
    "Runtime",
    "RuntimeStats",
    "SerializationError",
    "StateSnapshot",
    "StoreError",
    "StoreUnavailableError",
    "StreamWriter",
    "SystemMessage",
    "TaskFunction",
    "TaskFuture",
    "TaskTimeoutError",
    "ThreadBusyError",
    "ToolMessage",
    "Tracing",
    "add_messages",
    "coerce_message",
    "entrypoint",
    "extract_trace_context",
    "from_langchain",
    "get_config",
    "get_runtime",
    "get_store",
    "get_stream_writer",
    "inject_trace_context",
    "interrupt",
    "message_chunk_to_message",
    "task",
    "to_langchain",
    "trace_context",
]


def __getattr__(name: str) -> _Any:
    """``OtlpSpanExporter`` on first use: it imports the SDK (the ``otel`` extra)."""
    if name == "OtlpSpanExporter":
        from ._tracing_export import OtlpSpanExporter

        return OtlpSpanExporter
    raise AttributeError(f"module 'runtime' has no attribute {name!r}")
