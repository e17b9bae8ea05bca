"""LangChain runnables inside runs: tokens to stream mode "messages", and config callbacks.

While a run's body and tasks execute, LangChain's ``var_child_runnable_config``
context variable holds a config whose callbacks are (a) a handler that
sends each chat-model token to stream mode "messages" when the caller asked
for it, as LangGraph's ``StreamMessagesHandler`` does, and (b) the
``callbacks`` of the run's config, under a chain run for the entrypoint.
Any LangChain chat model invoked in the run (``model.invoke(...)`` with no
config) picks these up, exactly as inside a LangGraph node. Nothing is set
unless langchain_core is already imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import anyio
import sniffio

from ._context import RUN_VAR, SCOPE_VAR

if TYPE_CHECKING:
    from ._run_state import RunState

_INSTALL = (
    "config['callbacks'] needs langchain-core: pip install 'actorgraph[langchain]'"
)


def _handler_class() -> type[Any]:
    callbacks = importlib.import_module("langchain_core.callbacks")
    streaming = importlib.import_module("langchain_core.tracers._streaming")
    outputs = importlib.import_module("langchain_core.outputs")

    class MessagesHandler(
        callbacks.BaseCallbackHandler, streaming._StreamingCallbackHandler
    ):  # pyright: ignore[reportPrivateUsage, reportUntypedBaseClass] -- the marker LangGraph uses too
        """Sends chat-model tokens (or whole replies) to stream mode "messages"."""

        run_inline = True  # in the model's own task or thread: its context is the run's

        def __init__(self) -> None:
            self.meta: dict[Any, tuple[RunState, dict[str, Any]]] = {}
            self.seen: set[str] = set()

        def tap_output_aiter(self, run_id: Any, output: Any) -> Any:
            return output

        def tap_output_iter(self, run_id: Any, output: Any) -> Any:
            return output

        def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any, tags: list[str] | None = None, metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:  # fmt: skip
            run, scope = RUN_VAR.get(), SCOPE_VAR.get()
            if run is None or "nostream" in (tags or ()):
                return
            node = scope.name if scope is not None else run.name
            meta = {
                **(metadata or {}),
                "thread_id": run.thread_id,
                "run_id": run.run_id,
                "langgraph_node": node,
                "task_id": scope.task_id if scope is not None else "",
            }
            self.meta[run_id] = (run, meta)

        def on_llm_new_token(self, token: str, *, chunk: Any = None, run_id: Any, **kwargs: Any) -> None:  # fmt: skip
            found = self.meta.get(run_id)
            if found is not None and isinstance(chunk, outputs.ChatGenerationChunk):
                self._emit(found, chunk.message)

        def on_llm_end(self, response: Any, *, run_id: Any, **kwargs: Any) -> None:
            found = self.meta.pop(run_id, None)
            if found is None or not response.generations or not response.generations[0]:
                return
            gen = response.generations[0][0]
            message = getattr(gen, "message", None)
            if message is not None and message.id not in self.seen:
                self._emit(found, message)  # not streamed: the whole reply at once

        def on_llm_error(
            self, error: BaseException, *, run_id: Any, **kwargs: Any
        ) -> None:
            self.meta.pop(run_id, None)

        def _emit(self, found: tuple[RunState, dict[str, Any]], message: Any) -> None:
            if message.id is not None:
                self.seen.add(message.id)
            run, meta = found
            run.emitter.emit("messages", (message, meta))

    return MessagesHandler


_HANDLER: list[type[Any]] = []


def _new_handler() -> Any:
    if not _HANDLER:
        _HANDLER.append(_handler_class())
    return _HANDLER[0]()


def _child_config_var() -> ContextVar[Any]:
    return importlib.import_module(
        "langchain_core.runnables.config"
    ).var_child_runnable_config


def check_callbacks(callbacks: object) -> None:
    """ImportError when ``config['callbacks']`` is set and langchain-core is missing."""
    if callbacks and importlib.util.find_spec("langchain_core") is None:
        raise ImportError(_INSTALL)


class Outcome:
    """What the run returned, for the entrypoint's ``on_chain_end``."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None


@asynccontextmanager
async def langchain_config(
    rs: RunState, callbacks: Any, input_value: Any
) -> AsyncGenerator[Outcome]:
    """Set LangChain's child config for the run's body and tasks.

    With ``callbacks`` (config['callbacks']) the run is a chain run of its
    own: ``on_chain_start`` before, ``on_chain_end`` with ``Outcome.value``
    or ``on_chain_error`` after, and the models it calls report under it.
    Does nothing when langchain_core is not imported, or neither "messages"
    mode nor ``callbacks`` asks for it.
    """
    outcome = Outcome()
    wanted = rs.emitter.wants("messages")
    if "langchain_core" not in sys.modules or not (wanted or callbacks):
        yield outcome
        return
    handlers: list[Any] = [_new_handler()] if wanted else []
    config: dict[str, Any] = {
        "callbacks": handlers,
        "metadata": {"thread_id": rs.thread_id, "langgraph_node": rs.name},
        "configurable": dict(rs.config.get("configurable") or {}),
    }
    run_manager = None
    if callbacks:
        run_manager = await _start_chain(rs, callbacks, handlers, input_value)
        config["callbacks"] = run_manager.get_child()
    var = _child_config_var()
    token = var.set(config)
    try:
        yield outcome
    except BaseException as exc:
        if run_manager is not None:
            with anyio.CancelScope(shield=True):
                await _maybe_await(run_manager.on_chain_error(exc))
        raise
    finally:
        var.reset(token)
    if run_manager is not None:
        await _maybe_await(run_manager.on_chain_end({"output": outcome.value}))


async def _start_chain(
    rs: RunState, callbacks: Any, handlers: list[Any], input_value: Any
) -> Any:
    """The run's chain-run manager: LangChain's async manager on asyncio, its sync one elsewhere.

    (The async manager gathers handlers with asyncio.gather, which trio cannot run.)
    """
    module = importlib.import_module("langchain_core.callbacks")
    on_asyncio = sniffio.current_async_library() == "asyncio"
    cls = module.AsyncCallbackManager if on_asyncio else module.CallbackManager
    manager = cls.configure(inheritable_callbacks=callbacks)
    for handler in handlers:
        manager.add_handler(handler, inherit=True)
    return await _maybe_await(
        manager.on_chain_start(None, {"input": input_value}, name=rs.name)
    )


async def _maybe_await(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result
