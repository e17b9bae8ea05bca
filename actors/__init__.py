"""Actor core: mailboxes, refs, the actor system, thread and store actors.

``__all__`` holds what ``runtime`` builds on; the rest (mailboxes, refs,
envelopes) stays in the private modules, for the actors' own use and tests.
``LeanSpan`` loads on first use: it imports the OpenTelemetry SDK, which a
process that does not trace never needs.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING, Any as _Any

from ._actor import Reply as Reply
from ._errors import (
    ActorDeadError as ActorDeadError,
    ActorError as ActorError,
    MailboxFullError as MailboxFullError,
    RunCancelledError as RunCancelledError,
    ThreadBusyError as ThreadBusyError,
)
from ._journal import Journal as Journal
from ._registry import Registry as Registry, RegistryStats as RegistryStats
from ._store_actor import (
    ActorStore as ActorStore,
    StoreActor as StoreActor,
    StoreStats as StoreStats,
)
from ._system import ActorSystem as ActorSystem
from ._telemetry import Telemetry as Telemetry
from ._thread import (
    STRATEGIES as STRATEGIES,
    Strategy as Strategy,
    Submit as Submit,
    ThreadActor as ThreadActor,
    ThreadStats as ThreadStats,
    Turn as Turn,
)

if _TYPE_CHECKING:
    from ._spans import LeanSpan as LeanSpan

__all__ = [
    "STRATEGIES",
    "ActorDeadError",
    "ActorError",
    "ActorStore",
    "ActorSystem",
    "Journal",
    "LeanSpan",
    "MailboxFullError",
    "Registry",
    "RegistryStats",
    "Reply",
    "RunCancelledError",
    "StoreActor",
    "StoreStats",
    "Strategy",
    "Submit",
    "Telemetry",
    "ThreadActor",
    "ThreadBusyError",
    "ThreadStats",
    "Turn",
]


def __getattr__(name: str) -> _Any:
    """``LeanSpan`` on first use (``actors._spans`` imports the SDK)."""
    if name == "LeanSpan":
        from ._spans import LeanSpan

        return LeanSpan
    raise AttributeError(f"module 'actors' has no attribute {name!r}")
