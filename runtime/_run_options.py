"""The keywords and config keys LangGraph's entrypoints take, checked in one place.

What we honour is read here; what we do not is a clear error, never
silently ignored. ``tags``, ``metadata`` and ``run_name`` go into the
checkpoint's metadata, as LangGraph records them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from actors import STRATEGIES, Strategy

from ._langchain_stream import check_callbacks

if TYPE_CHECKING:
    from stores import CheckpointSaver

    from ._host import Runtime

_CONFIG_KEYS = frozenset(
    {
        "configurable",
        "multitask_strategy",
        "tags",
        "metadata",
        "run_name",
        "recursion_limit",
        "store",  # ours: get_config() hands it back, so a config may carry it
        "callbacks",  # LangChain callbacks (the langchain extra)
    }
)

_CONFIG_ADVICE = {
    "max_concurrency": "bound concurrent sync tasks with Runtime(max_sync_threads=...)",
    "run_id": "every run gets its own id (see metadata['run_id'] in get_state())",
}

# LangGraph's invoke/stream keywords that have no meaning here.
_STREAM_KWARGS = {
    "print_mode": "iterate the stream and print what you need",
    "output_keys": "entrypoints return one value; pick keys from it",
    "interrupt_before": "call interrupt() inside the entrypoint or a task",
    "interrupt_after": "call interrupt() inside the entrypoint or a task",
    "debug": 'use stream_mode="debug"',
    "control": "use multitask_strategy='interrupt' to stop a run",
    "checkpoint_during": "use durability='sync' | 'async' | 'exit'",
}


def reject_stream_kwargs(kwargs: Mapping[str, Any]) -> None:
    """TypeError for LangGraph invoke/stream keywords we do not support.

    A keyword left at LangGraph's default (None, False, ``()``, ``"v1"`` for
    ``version``) is accepted, so ported calls that spell defaults still run.
    """
    for key, value in kwargs.items():
        if key == "version" and value in (None, "v1"):
            continue
        if key in _STREAM_KWARGS and value in (None, False, (), []):
            continue
        if key == "version":
            raise TypeError(
                f"version={value!r} is not supported: streams yield LangGraph's v1 "
                "shapes (bare chunks, (mode, chunk) or (namespace, ...) tuples)"
            )
        advice = _STREAM_KWARGS.get(key)
        if advice is None:
            raise TypeError(f"unexpected keyword argument {key!r}")
        raise TypeError(f"{key}= is not supported by entrypoints: {advice}")


def run_metadata(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What a run records in its checkpoint metadata from ``config``.

    Raises ValueError for an unknown config key or a malformed known one.
    """
    for key in cfg:
        if key not in _CONFIG_KEYS:
            advice = _CONFIG_ADVICE.get(key, f"known keys: {sorted(_CONFIG_KEYS)}")
            raise ValueError(f"config key {key!r} is not supported: {advice}")
    check_callbacks(cfg.get("callbacks"))
    limit = cfg.get("recursion_limit")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
    ):
        raise ValueError(f"recursion_limit must be a positive int, got {limit!r}")
    metadata: object = cfg.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ValueError(f"config['metadata'] must be a mapping, got {metadata!r}")
    out: dict[str, Any] = dict(cast("Mapping[str, Any]", metadata))
    tags = cfg.get("tags")
    if tags is not None:
        if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
            raise ValueError(f"config['tags'] must be a list of strings, got {tags!r}")
        out["tags"] = list(tags)
    run_name = cfg.get("run_name")
    if run_name is not None:
        if not isinstance(run_name, str):
            raise ValueError(f"config['run_name'] must be a string, got {run_name!r}")
        out["run_name"] = run_name
    return out


_ENTRYPOINT_ADVICE = {
    "retry_policy": "put retry_policy= on the @task calls it makes",
    "retry": "put retry_policy= on the @task calls it makes",
    "cache_policy": "put cache_policy= on the @task calls it makes",
    "timeout": "put timeout= on the async @task calls it makes",
}


def check_entrypoint_options(options: Mapping[str, Any]) -> Any:
    """``context_schema`` from LangGraph's entrypoint keywords; TypeError for the rest.

    ``config_schema`` (LangGraph's deprecated spelling) is taken as
    ``context_schema``. Keywords left at None are accepted.
    """
    context_schema = options.get("context_schema")
    if context_schema is None:
        context_schema = options.get("config_schema")
    for key, value in options.items():
        if key in ("context_schema", "config_schema") or value is None:
            continue
        advice = _ENTRYPOINT_ADVICE.get(key)
        if advice is None:
            raise TypeError(f"entrypoint() got an unexpected keyword argument {key!r}")
        raise TypeError(f"entrypoint({key}=...) is not supported: {advice}")
    if context_schema is not None and not isinstance(context_schema, type):
        raise TypeError(f"context_schema must be a class, got {context_schema!r}")
    return context_schema


def prepare_config(
    name: str,
    checkpointer: CheckpointSaver | None,
    host: Runtime | None,
    config: Mapping[str, Any] | None,
) -> tuple[str | None, Strategy, dict[str, Any]]:
    """The thread id, multitask strategy and a private copy of ``config``.

    Raises TypeError for a config that is not a mapping, ValueError for a
    missing or bad thread id (with a checkpointer) or strategy.
    """
    if config is not None and not isinstance(config, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
        raise TypeError(
            f"config must be a mapping like {{'configurable': {{'thread_id': ...}}}}, got {config!r}"
        )
    cfg = dict(config or {})
    configurable = dict(cfg.get("configurable") or {})
    thread_id = configurable.get("thread_id")
    if thread_id is None and checkpointer is not None:
        raise ValueError(
            f"entrypoint {name!r} has a checkpointer, so it needs a thread id: "
            "pass config={'configurable': {'thread_id': '...'}}"
        )
    if thread_id is not None:
        if not isinstance(thread_id, str | int) or thread_id == "":
            raise ValueError(f"thread_id must be a non-empty string, got {thread_id!r}")
        thread_id = configurable["thread_id"] = str(thread_id)
    cfg["configurable"] = configurable
    strategy = cfg.get("multitask_strategy") or (
        host.multitask_strategy if host else "enqueue"
    )
    if strategy not in STRATEGIES:
        raise ValueError(
            f"multitask_strategy must be one of {STRATEGIES}, got {strategy!r}"
        )
    return thread_id, strategy, cfg
