"""``MatchCondition``: LangGraph's namespace patterns for ``ListNamespacesOp``."""

from __future__ import annotations

from typing import Literal, cast

import msgspec

from ._errors import InvalidNamespaceError

Namespace = tuple[str, ...]


class MatchCondition(msgspec.Struct, frozen=True, gc=False):
    """A namespace pattern for ``ListNamespacesOp``: ``MatchCondition("prefix", ("a", "*"))``.

    ``match_type`` is "prefix" or "suffix"; ``"*"`` in ``path`` matches any
    one label. Raises ValueError for another match type,
    InvalidNamespaceError for a path that is not a sequence of labels.
    """

    match_type: Literal["prefix", "suffix"]
    path: Namespace

    def __post_init__(self) -> None:
        if self.match_type not in ("prefix", "suffix"):
            raise ValueError(
                f"match_type must be 'prefix' or 'suffix', got {self.match_type!r}"
            )
        path = cast("object", self.path)  # user input: may be anything
        if isinstance(path, str) or not isinstance(path, tuple | list):
            raise InvalidNamespaceError(
                f"{self.match_type} path must be a tuple of strings, got {path!r}"
            )
        msgspec.structs.force_setattr(self, "path", tuple(path))  # pyright: ignore[reportUnknownArgumentType] -- checked as an op


def conditions_by_kind(
    conditions: tuple[MatchCondition, ...],
    prefix: Namespace | None,
    suffix: Namespace | None,
) -> dict[str, Namespace]:
    """The prefix and suffix the conditions name, beside ``prefix=``/``suffix=``.

    Raises TypeError for a non-MatchCondition, ValueError for two different
    conditions of one kind (an op lists one prefix and one suffix).
    """
    given: dict[str, Namespace | None] = {"prefix": prefix, "suffix": suffix}
    found: dict[str, Namespace] = {}
    for condition in conditions:
        if not isinstance(condition, MatchCondition):  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
            raise TypeError(
                f"match_conditions must hold MatchCondition objects, got {condition!r}"
            )
        kind = condition.match_type
        other = found.get(kind) or given[kind]
        if other is not None and other != condition.path:
            raise ValueError(
                f"ListNamespacesOp takes one {kind} condition, got {other!r} and "
                f"{condition.path!r}; list each pattern in its own op"
            )
        found[kind] = condition.path
    return found
