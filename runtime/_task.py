"""``@task``: retryable units of work whose results are recorded per run.

Calling a task inside a run schedules it and returns a ``TaskFuture``:
``await fut`` in async code, ``fut.result()`` in sync code; several can run
at the same time. A task awaited before its caller yields to the loop runs
in place, in a copy of the caller's context, without a task of its own; any
other starts as a task of its own at the caller's next yield (on every
backend alike). Each call has a deterministic id (its
position among the calls of its caller), so a resumed run finds the recorded
result of a finished task instead of running it again.
"""

from __future__ import annotations

import functools
import inspect
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, cast, overload

import sniffio

from stores._shared import new_signal

from ._context import current_run
from ._task_options import CACHE_NS, CachePolicy, coerce_timeout, wrap_task_fn

if TYPE_CHECKING:
    from datetime import timedelta

    from stores import BaseCache

P = ParamSpec("P")
T = TypeVar("T")

_NEVER_RETRY = (
    ValueError,
    TypeError,
    ArithmeticError,
    ImportError,
    LookupError,
    NameError,
    SyntaxError,
    RuntimeError,
    ReferenceError,
    StopIteration,
    StopAsyncIteration,
    OSError,
)


def default_retry_on(exc: BaseException) -> bool:
    """LangGraph's default: retry connection errors and 5xx responses, not programming errors."""
    if isinstance(exc, ConnectionError):
        return True
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int):
        return status >= 500
    return not isinstance(exc, _NEVER_RETRY)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failing task is retried: exponential backoff with optional jitter.

    ``retry_on`` is an exception class, a sequence of them, or a predicate.
    Positional order is LangGraph's: ``RetryPolicy(initial_interval,
    backoff_factor, max_interval, max_attempts, jitter, retry_on)``.
    """

    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: (
        type[BaseException]
        | Sequence[type[BaseException]]
        | Callable[[BaseException], bool]
    ) = default_retry_on

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(
                f"max_attempts must be at least 1, got {self.max_attempts}"
            )
        if (
            self.initial_interval < 0
            or self.max_interval < 0
            or self.backoff_factor < 1
        ):
            raise ValueError("intervals must be >= 0 and backoff_factor >= 1")

    def should_retry(self, exc: BaseException) -> bool:
        """True if ``exc`` is one this policy retries."""
        rule = self.retry_on
        if isinstance(rule, type):
            return isinstance(exc, rule)
        if isinstance(rule, Sequence):
            return isinstance(exc, tuple(cast("Sequence[type[BaseException]]", rule)))
        return bool(rule(exc))

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(
            self.max_interval,
            self.initial_interval * self.backoff_factor ** (attempt - 1),
        )
        return base + (random.uniform(0, 1) if self.jitter else 0.0)


class TaskFuture(Generic[T]):
    """The pending result of one task call.

    ``await fut`` in async code; ``fut.result()`` blocks a sync caller (a
    sync entrypoint or task, which runs in a worker thread). Either re-raises
    the task's error.
    """

    __slots__ = ("_done", "_error", "_start", "_value", "name", "task_id")

    def __init__(self, name: str, task_id: str) -> None:
        self.name = name
        self.task_id = task_id
        self._done = new_signal()
        self._value: Any = None
        self._error: BaseException | None = None
        self._start: Callable[[], Awaitable[None]] | None = None
        """Set while the task is scheduled but not started: the first ``await``
        runs it in place (see ``RunState._schedule``)."""

    def set_result(self, value: T) -> None:
        """Resolve with ``value`` (first resolution wins)."""
        if not self._done.is_set():
            self._value = value
            self._done.set()

    def set_exception(self, error: BaseException) -> None:
        """Resolve with ``error`` (first resolution wins)."""
        if not self._done.is_set():
            self._error = error
            self._done.set()

    def done(self) -> bool:
        """True once resolved."""
        return self._done.is_set()

    def claim(self) -> Callable[[], Awaitable[None]] | None:
        """Take the not-yet-started task's runner, so that exactly one caller starts it."""
        start, self._start = self._start, None
        return start

    async def _wait(self) -> T:
        start = self.claim()
        if start is not None:
            await start()
        else:
            await self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value

    def __await__(self) -> Any:
        return self._wait().__await__()

    def result(self) -> T:
        """Block until the task finishes and return its result (sync code only).

        Raises the task's error; RuntimeError if called on the event loop
        thread (``await`` the future there instead).
        """
        if self._done.is_set():
            if self._error is not None:
                raise self._error
            return self._value
        try:
            sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            import anyio.from_thread  # (here: only sync bodies in threads need it)

            return anyio.from_thread.run(self._wait)
        raise RuntimeError(
            f"task {self.name!r}: use 'await fut' in async code, not fut.result()"
        )

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"<TaskFuture {self.name} #{self.task_id} {state}>"


class TaskFunction(Generic[P, T]):
    """A function decorated with ``@task``; calling it inside a run returns a TaskFuture.

    ``retry_policy`` holds its policies (the first whose ``retry_on`` matches
    an error decides, as in LangGraph); ``cache_policy`` and ``timeout``
    wrap each attempt (see ``_task_options``).
    """

    def __init__(
        self,
        fn: Callable[P, Any],
        *,
        name: str | None,
        retry: Sequence[RetryPolicy] = (),
        cache_policy: CachePolicy[Any] | None = None,
        timeout: float | timedelta | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@task needs a function, got {fn!r}")
        if cache_policy is not None and not isinstance(cache_policy, CachePolicy):  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
            raise TypeError(f"cache_policy must be a CachePolicy, got {cache_policy!r}")
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        is_async = inspect.iscoroutinefunction(fn)
        seconds = coerce_timeout(timeout, self.name, is_async)
        self.retry_policy = tuple(retry)
        self.retry = self.retry_policy or None
        """None: one attempt, no retry loop (``RunState._execute``)."""
        self.cache_policy = cache_policy
        self.timeout = seconds
        if cache_policy is None and seconds is None:
            self.fn, self.is_async = fn, is_async
        else:
            self.fn = wrap_task_fn(fn, is_async, self.name, cache_policy, seconds)
            self.is_async = True
        functools.update_wrapper(self, fn)

    def retry_for(self, exc: BaseException) -> RetryPolicy | None:
        """The first policy that retries ``exc``, or None."""
        for policy in self.retry_policy:
            if policy.should_retry(exc):
                return policy
        return None

    def clear_cache(self, cache: BaseCache) -> None:
        """Drop this task's cached results from ``cache`` (blocking)."""
        cache.clear([(CACHE_NS, self.name)])

    async def aclear_cache(self, cache: BaseCache) -> None:
        """Drop this task's cached results from ``cache``."""
        await cache.aclear([(CACHE_NS, self.name)])

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> TaskFuture[T]:
        run, scope = current_run(f"task {self.name!r}")
        return run.call_task(self, scope, args, kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name}>"


_RetryArg = RetryPolicy | Sequence[RetryPolicy] | None


@overload
def task(fn: Callable[P, Any], /) -> TaskFunction[P, Any]: ...
@overload
def task(
    *,
    name: str | None = None,
    retry_policy: _RetryArg = None,
    cache_policy: CachePolicy[Any] | None = None,
    timeout: float | timedelta | None = None,
    retry: _RetryArg = None,
) -> Callable[[Callable[P, Any]], TaskFunction[P, Any]]: ...
def task(
    fn: Callable[P, Any] | None = None,
    /,
    *,
    name: str | None = None,
    retry_policy: _RetryArg = None,
    cache_policy: CachePolicy[Any] | None = None,
    timeout: float | timedelta | None = None,
    retry: _RetryArg = None,
) -> Any:
    """Decorate a sync or async function as a task: ``@task`` or ``@task(name=..., retry_policy=...)``.

    ``retry_policy`` (or ``retry``, LangGraph's old spelling) is one
    ``RetryPolicy`` or a sequence; ``cache_policy`` caches results in the
    entrypoint's ``cache``; ``timeout`` (seconds or timedelta, async tasks
    only) bounds each attempt and raises TaskTimeoutError. Calling the task
    outside a run raises RuntimeError; a bad option raises TypeError or
    ValueError here.
    """
    policies = _policies(retry_policy if retry_policy is not None else retry)

    def decorate(f: Callable[P, Any]) -> TaskFunction[P, Any]:
        return TaskFunction(
            f, name=name, retry=policies, cache_policy=cache_policy, timeout=timeout
        )

    return decorate(fn) if fn is not None else decorate


def _policies(arg: object) -> tuple[RetryPolicy, ...]:
    if arg is None:
        return ()
    if isinstance(arg, RetryPolicy):
        return (arg,)
    if isinstance(arg, Sequence) and not isinstance(arg, str):
        items = tuple(arg)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType] -- checked below
        if all(isinstance(p, RetryPolicy) for p in items):  # pyright: ignore[reportUnknownVariableType]
            return items  # pyright: ignore[reportUnknownVariableType]
    raise TypeError(
        f"retry_policy must be a RetryPolicy or a sequence of them, got {arg!r}"
    )
