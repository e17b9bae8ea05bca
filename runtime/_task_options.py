"""LangGraph's per-task options: ``CachePolicy`` and ``timeout``, applied around each attempt.

A task with a cache policy looks its key up in the entrypoint's cache
(``entrypoint(cache=...)``) before running and stores a result after; one
with a timeout runs each attempt under ``anyio.fail_after``. Both wrap the
task's function, so the run's scheduling and retries are unchanged: a
timed-out attempt is an error the retry policy may retry.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio
import anyio.to_thread

from ._context import INJECTED_VAR, current_run
from ._errors import TaskTimeoutError
from ._serde import dumps, loads

KeyFuncT = TypeVar("KeyFuncT", bound=Callable[..., str | bytes])

CACHE_NS = "__task__"
"""The first label of every task-result cache namespace: ``(CACHE_NS, task_name)``."""


def default_cache_key(*args: Any, **kwargs: Any) -> bytes:
    """The bytes of the call's arguments (LangGraph hashes a pickle of them; we hash msgpack)."""
    return dumps((args, sorted(kwargs.items())))


@dataclasses.dataclass(frozen=True, slots=True)
class CachePolicy(Generic[KeyFuncT]):
    """How a task's results are cached: ``key_func(*args, **kwargs)`` and ``ttl`` in seconds."""

    key_func: KeyFuncT = default_cache_key  # pyright: ignore[reportAssignmentType] -- the default key function
    ttl: int | None = None

    def __post_init__(self) -> None:
        if not callable(self.key_func):
            raise TypeError(f"key_func must be callable, got {self.key_func!r}")
        if self.ttl is not None and (
            isinstance(self.ttl, bool) or not isinstance(self.ttl, int) or self.ttl <= 0  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
        ):
            raise ValueError(
                f"ttl is in seconds and must be a positive int, got {self.ttl!r}"
            )


def coerce_timeout(timeout: object, name: str, is_async: bool) -> float | None:
    """Seconds from a number or ``timedelta``; ValueError/TypeError for what we cannot honour."""
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(
            f"task {name!r}: timeout must be seconds (a number or timedelta), got "
            f"{timeout!r}; LangGraph's TimeoutPolicy (idle timeouts) is not supported"
        )
    if timeout <= 0:
        raise ValueError(f"task {name!r}: timeout must be positive, got {timeout!r}")
    if not is_async:
        raise ValueError(
            f"task {name!r}: timeout= needs an async function (a sync one cannot "
            "be stopped in process), as in LangGraph"
        )
    return float(timeout)


def wrap_task_fn(
    fn: Callable[..., Any],
    is_async: bool,
    name: str,
    cache_policy: CachePolicy[Any] | None,
    timeout: float | None,
) -> Callable[..., Any]:
    """``fn`` with its cache lookup and timeout around each call (an async function)."""

    async def call(*args: Any, **kwargs: Any) -> Any:
        if is_async:
            if timeout is None:
                return await fn(*args, **kwargs)
            try:
                with anyio.fail_after(timeout):
                    return await fn(*args, **kwargs)
            except TimeoutError as exc:
                raise TaskTimeoutError(
                    f"task {name!r} took longer than its timeout of {timeout} s"
                ) from exc
        run, _ = current_run(f"task {name!r}")
        return await anyio.to_thread.run_sync(
            lambda: fn(*args, **kwargs), limiter=run.limiter
        )

    if cache_policy is None:
        return call

    async def cached(*args: Any, **kwargs: Any) -> Any:
        injected = INJECTED_VAR.get()
        cache = injected.cache if injected is not None else None
        if cache is None:
            return await call(*args, **kwargs)
        raw = cache_policy.key_func(*args, **kwargs)
        digest = hashlib.sha256(
            raw.encode() if isinstance(raw, str) else bytes(raw)
        ).hexdigest()
        full_key = ((CACHE_NS, name), digest)
        found = await cache.aget([full_key])
        if full_key in found:
            return loads(found[full_key])
        value = await call(*args, **kwargs)
        await cache.aset({full_key: (dumps(value), cache_policy.ttl)})
        return value

    return cached
