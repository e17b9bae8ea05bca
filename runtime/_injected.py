"""LangGraph's run-scoped ``Runtime`` object: what an entrypoint's ``runtime`` parameter gets.

LangGraph injects a ``Runtime[Context]`` into a function that declares a
``runtime`` parameter. Our host class is already named ``Runtime`` (it is
the fixed public contract), so the injected object is an ``InjectedRuntime``
with the same attributes (``context``, ``store``, ``stream_writer``,
``previous``, ``execution_info``, ``override``), and the host ``Runtime``
accepts a subscript, so ``runtime: Runtime[Context]`` keeps working after
``from langgraph.runtime import Runtime`` becomes ``from runtime import Runtime``.
Injection is by parameter name, as in LangGraph; the annotation is never read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from ._context import current_injected

if TYPE_CHECKING:
    from stores import BaseCache, BaseStore

ContextT = TypeVar("ContextT")


class StreamWriter(Protocol):
    """``writer(chunk)``: emits ``chunk`` in stream mode "custom" (LangGraph's ``StreamWriter``)."""

    def __call__(self, chunk: Any, /) -> None:
        """Emit ``chunk``; never blocks."""
        ...


def _no_op(*_: Any) -> None:
    return None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionInfo:
    """Read-only facts about the executing run (LangGraph's ``ExecutionInfo``)."""

    checkpoint_id: str | None
    """The checkpoint the run started from (None on a fresh thread)."""
    checkpoint_ns: str
    """"" for a top-level run; ``"parent:id"`` segments joined by ``|`` when nested."""
    task_id: str
    thread_id: str | None = None
    run_id: str | None = None
    node_attempt: int = 1
    node_first_attempt_time: float | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InjectedRuntime(Generic[ContextT]):
    """What a ``runtime`` parameter receives: the run's context, store, writer and ``previous``."""

    context: ContextT = None  # pyright: ignore[reportAssignmentType] -- None without context=
    store: BaseStore | None = None
    stream_writer: StreamWriter = _no_op
    previous: Any = None
    heartbeat: Callable[[], None] = _no_op
    execution_info: ExecutionInfo | None = None
    cache: BaseCache | None = None
    """Ours: the entrypoint's cache, read by tasks that have a ``cache_policy``."""

    def override(self, **overrides: Any) -> InjectedRuntime[ContextT]:
        """A copy with the named fields replaced (LangGraph's ``Runtime.override``)."""
        return dataclasses.replace(self, **overrides)

    def merge(self, other: InjectedRuntime[ContextT]) -> InjectedRuntime[ContextT]:
        """A copy taking each field of ``other`` that is set (LangGraph's ``Runtime.merge``)."""
        return dataclasses.replace(
            self,
            context=other.context if other.context is not None else self.context,
            store=other.store or self.store,
            stream_writer=other.stream_writer
            if other.stream_writer is not _no_op
            else self.stream_writer,
            previous=other.previous if other.previous is not None else self.previous,
        )


def get_runtime(
    context_schema: type[ContextT] | None = None,
) -> InjectedRuntime[ContextT]:
    """The current run's ``InjectedRuntime`` (LangGraph's ``get_runtime``).

    ``context_schema`` is accepted for typing only. Raises RuntimeError
    outside a run.
    """
    del context_schema
    return current_injected("get_runtime()")


def coerce_context(schema: type[Any] | None, context: Any) -> Any:
    """``context`` as LangGraph hands it to the run.

    A dict becomes ``schema(**context)`` when ``schema`` is a dataclass or a
    pydantic model; anything else passes unchanged. Raises TypeError naming
    the schema when the dict does not fit it.
    """
    if context is None or schema is None:
        return context
    if not isinstance(context, Mapping):
        return context
    fields = cast("Mapping[str, Any]", context)
    is_model = hasattr(schema, "model_validate")
    if not (dataclasses.is_dataclass(schema) or is_model):
        return fields
    try:
        return schema(**fields)
    except TypeError as exc:
        raise TypeError(
            f"context= does not fit context_schema {schema.__qualname__}: {exc}"
        ) from exc
