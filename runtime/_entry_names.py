"""The entrypoints of this process by name, for cluster members to find.

Every ``Entrypoint`` registers itself when it is built; a member serving a
forwarded request looks the request's entrypoint up here (``_forward``).
Apart from ``_wire`` so that building an entrypoint loads no cluster code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._entrypoint import Entrypoint

ENTRYPOINTS: dict[str, Entrypoint | None] = {}
"""Entrypoints of this process by name (None: two different ones share the name)."""


def register(ep: Entrypoint) -> None:
    """Make ``ep`` reachable by name from other members (called by every Entrypoint)."""
    known = ENTRYPOINTS.get(ep.name, ep)
    same = known is not None and known.__wrapped__ is ep.__wrapped__
    ENTRYPOINTS[ep.name] = ep if same else None


def lookup(name: str) -> Entrypoint:
    """The entrypoint named ``name``; LookupError naming the problem if none or two."""
    ep = ENTRYPOINTS.get(name, ...)
    if ep is ...:
        raise LookupError(
            f"no entrypoint named {name!r} in this process: every cluster member "
            "must define (import) the same entrypoints"
        )
    if ep is None:
        raise LookupError(
            f"two entrypoints are named {name!r} in this process; give each a "
            "unique name= so that cluster members can forward requests to it"
        )
    return ep
