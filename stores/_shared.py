"""What ``stores`` shares with the layers above it, and nothing else.

``actors`` and ``runtime`` may import private helpers of ``stores`` only
from here (``tests/test_layering.py`` enforces it): the one-shot signal
every turn sets and waits, the blocking twin builder, op validation for the
store actor, and the per-event-loop client cache of the SDK adapters. None
of it is a user API.
"""

from ._base import ensure_op as ensure_op
from ._signal import (
    Signal as Signal,
    SignalLike as SignalLike,
    new_signal as new_signal,
)
from ._sync import run_sync as run_sync
from .embeddings._openai import (
    LoopClients as LoopClients,
    run_sync_scoped as run_sync_scoped,
)

__all__ = [
    "LoopClients",
    "Signal",
    "SignalLike",
    "ensure_op",
    "new_signal",
    "run_sync",
    "run_sync_scoped",
]
