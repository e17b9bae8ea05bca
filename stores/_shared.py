"""What ``stores`` shares with the layers above it, and nothing else.

``actors`` and ``runtime`` may import private helpers of ``stores`` only
from here (``tests/test_layering.py`` enforces it): the one-shot signal
every turn sets and waits, the blocking twins (where a sync call runs, the
process's shared sync loop, a Runtime's binding of its context to its
loop), op validation for the store actor, and the per-event-loop client
cache of the SDK adapters. None of it is a user API.
"""

from ._base import ensure_op as ensure_op
from ._portal import shared_loop as shared_loop
from ._signal import (
    Signal as Signal,
    SignalLike as SignalLike,
    new_signal as new_signal,
)
from ._sync import (
    PortalHop as PortalHop,
    bound_to_loop as bound_to_loop,
    route as route,
    run_sync as run_sync,
)
from .embeddings._openai import LoopClients as LoopClients

__all__ = [
    "LoopClients",
    "PortalHop",
    "Signal",
    "SignalLike",
    "bound_to_loop",
    "ensure_op",
    "new_signal",
    "route",
    "run_sync",
    "shared_loop",
]
