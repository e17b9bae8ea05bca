"""Actor core: mailboxes, refs, the actor system, thread and store actors.

``__all__`` holds what ``runtime`` builds on; the rest (mailboxes, refs,
envelopes) stays in the private modules, for the actors' own use and tests.
"""

from . import _otel_context as otel_context
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

__all__ = [
    "STRATEGIES",
    "ActorDeadError",
    "ActorError",
    "ActorStore",
    "ActorSystem",
    "Journal",
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
    "otel_context",
]
