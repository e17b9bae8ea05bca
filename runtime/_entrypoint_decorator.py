"""``@entrypoint(...)``: checks the decorator's options and wraps a function in an ``Entrypoint``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from stores import BaseCache, BaseStore, CheckpointSaver

from ._entrypoint import Entrypoint
from ._run_options import check_entrypoint_options
from ._types import EntrypointFinal

ContextT = TypeVar("ContextT")


class entrypoint(Generic[ContextT]):
    """Decorate a workflow: ``@entrypoint(checkpointer=..., store=..., name=...)``.

    The function takes the input first; ``previous``, ``store``, ``config``,
    ``writer`` and ``runtime`` (an ``InjectedRuntime``: context, store,
    stream_writer, previous) are injected when it declares them. Return a
    value, or ``entrypoint.final(value=..., save=...)`` to return ``value``
    and keep ``save`` as the next run's ``previous``. ``cache`` holds the
    results of tasks with a ``cache_policy``; ``context_schema`` turns a dict
    passed as ``context=`` into that dataclass or pydantic model. LangGraph's
    ``retry_policy``/``cache_policy``/``timeout`` for the whole entrypoint
    are a TypeError: put them on its tasks.
    """

    final = EntrypointFinal

    def __init__(
        self,
        checkpointer: CheckpointSaver | None = None,
        store: BaseStore | None = None,
        name: str | None = None,
        *,
        cache: BaseCache | None = None,
        **options: Any,
    ) -> None:
        if checkpointer is not None and not hasattr(checkpointer, "acommit"):
            raise TypeError(
                f"checkpointer must be a checkpointer such as MemorySaver() or RedisSaver(), got {checkpointer!r}"
            )
        if store is not None and not isinstance(store, BaseStore):  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
            raise TypeError(
                f"store must be a BaseStore such as InMemoryStore(), got {store!r}"
            )
        if cache is not None and not isinstance(cache, BaseCache):  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
            raise TypeError(
                f"cache must be a BaseCache such as InMemoryCache(), got {cache!r}"
            )
        self.context_schema = check_entrypoint_options(options)
        self.checkpointer = checkpointer
        self.store = store
        self.name = name
        self.cache = cache

    def __call__(self, fn: Callable[..., Any]) -> Entrypoint:
        """Wrap ``fn``; raises TypeError if it does not take an input first."""
        return Entrypoint(
            fn,
            checkpointer=self.checkpointer,
            store=self.store,
            name=self.name,
            cache=self.cache,
            context_schema=self.context_schema,
        )
