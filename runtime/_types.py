"""Public value types: ``Command``, ``Interrupt``, ``StateSnapshot`` and ``final``."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

V = TypeVar("V")
S = TypeVar("S")

_UNSET: Any = msgspec.UNSET


class Interrupt(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="interrupt"
):
    """A pending question from ``interrupt(value)``; answer it with ``Command(resume=...)``."""

    value: Any
    id: str


class Command(msgspec.Struct, frozen=True, kw_only=True):
    """Input that resumes an interrupted run.

    ``resume``: the answer to the one pending interrupt, or a dict mapping
    interrupt ids to answers when several are pending.
    """

    resume: Any = None
    update: Any = None
    goto: Any = ()

    def __post_init__(self) -> None:
        if self.goto not in ((), None, []):
            raise ValueError(
                "Command(goto=...) is for graphs; the functional API only takes resume="
            )


class StateSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A thread's state at one checkpoint, as ``get_state`` returns it.

    ``values`` is the last return value; ``next`` names the entrypoint when a
    run is pending (interrupted or failed); ``interrupts`` lists pending ones.
    """

    values: Any
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: dict[str, Any]
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[Any, ...] = ()
    interrupts: tuple[Interrupt, ...] = ()


class EntrypointFinal(Generic[V, S]):
    """``entrypoint.final(value=..., save=...)``: return ``value``, keep ``save`` as ``previous``."""

    __slots__ = ("save", "value")

    def __init__(self, *, value: V = None, save: S = _UNSET) -> None:
        self.value = value
        self.save = value if save is _UNSET else save

    def __repr__(self) -> str:
        return f"entrypoint.final(value={self.value!r}, save={self.save!r})"
