"""What a forwarded request and its answers look like between cluster members.

A request names its entrypoint (every member runs the same code, so each
finds the entrypoint by name), carries the input and config as the
runtime's serde encodes them, and says whose reply stream gets the
answer. Results travel the same way; errors are pickled (their class is
raised again in the caller), or, when that fails, described.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import msgspec

from stores import Checkpoint

from ._entry_names import (
    ENTRYPOINTS as ENTRYPOINTS,
    lookup as lookup,
    register as register,
)
from ._errors import RemoteError, SerializationError
from ._propagation import inject_trace_context
from ._serde import dumps, loads
from ._types import Command

Entry = tuple[str, dict[bytes, bytes]]
"""A stream entry: its id and fields."""


class Request(msgspec.Struct, frozen=True, array_like=True):
    """One forwarded request: the envelope between cluster members."""

    id: str
    reply_to: str
    entry: str
    kind: Literal["run", "update"]
    thread_id: str
    strategy: str
    durability: str
    modes: list[str]
    input: bytes
    resume: bool
    config: bytes
    context: bytes = b""  # the run's context (serde), b"": none
    subgraphs: bool = False
    trace: dict[str, str] = msgspec.field(default_factory=dict[str, str])
    """Tracing carrier headers (``traceparent``...): filled on the caller's
    side by the hook of ``set_trace_hook``, handed to the run (``RunTurn.trace``)
    on the owner's side, where the run's span becomes the caller's child.
    Empty while the caller's process does not trace."""


TraceHook = Callable[[], Mapping[str, str]]
_trace_hook: list[TraceHook | None] = [inject_trace_context]
"""By default the current OpenTelemetry context (a no-op while no Runtime traces)."""


def set_trace_hook(hook: TraceHook | None) -> None:
    """Make ``hook()`` (the caller's tracing carrier, e.g. OpenTelemetry's
    ``inject`` into a dict) travel with every forwarded request; None: nothing."""
    _trace_hook[0] = hook


def trace_carrier() -> dict[str, str]:
    """The carrier headers of the current caller (empty without a hook; never raises)."""
    hook = _trace_hook[0]
    if hook is None:
        return {}
    try:
        return {str(k): str(v) for k, v in hook().items()}
    except Exception:  # noqa: BLE001 -- tracing must never fail a request
        return {}


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(Request)
_CKPT = msgspec.msgpack.Decoder(Checkpoint)


def encode(request: Request) -> bytes:
    return _ENC.encode(request)


def decode(data: bytes) -> Request:
    return _DEC.decode(data)


def encode_input(value: Any) -> tuple[bytes, bool]:
    """``(bytes, resume)``: a ``Command`` travels as its resume answer."""
    if isinstance(value, Command):
        return dumps(value.resume), True
    return dumps(value), False


def decode_input(data: bytes, resume: bool) -> Any:
    value = loads(data)
    return Command(resume=value) if resume else value


def encode_config(cfg: dict[str, Any]) -> bytes:
    """The config without the run's store front (rebuilt by the owner)."""
    plain = {k: v for k, v in cfg.items() if k != "store"}
    try:
        return dumps(plain)
    except SerializationError as exc:
        raise SerializationError(
            f"a request forwarded to another cluster member needs a serializable config: {exc}"
        ) from exc


def encode_result(kind: str, value: Any) -> bytes:
    return _ENC.encode(value) if kind == "update" else dumps(value)


def decode_result(kind: str, data: bytes) -> Any:
    return _CKPT.decode(data) if kind == "update" else loads(data)


def encode_error(exc: BaseException) -> bytes:
    import pickle  # (here: only a failed forwarded request needs it)

    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
    except Exception:  # noqa: BLE001 -- any pickling failure: send a description
        data = pickle.dumps(RemoteError(f"{type(exc).__name__}: {exc}"))
    return data


def decode_error(data: bytes) -> BaseException:
    import pickle

    return pickle.loads(data)
