"""Actor core: mailboxes, refs, the actor system, thread and store actors."""

from stores._signal import (
    Signal as Signal,
    SignalLike as SignalLike,
    new_signal as new_signal,
)

from ._actor import ActorRef as ActorRef, Envelope as Envelope, Reply as Reply
from ._errors import (
    ActorDeadError as ActorDeadError,
    ActorError as ActorError,
    MailboxFullError as MailboxFullError,
    RunCancelledError as RunCancelledError,
    ThreadBusyError as ThreadBusyError,
)
from ._journal import Journal as Journal, new_id as new_id
from ._mailbox import Mailbox as Mailbox, MailboxStats as MailboxStats
from ._registry import Registry as Registry, RegistryStats as RegistryStats
from ._store_actor import (
    ActorStore as ActorStore,
    StoreActor as StoreActor,
    StoreStats as StoreStats,
)
from ._system import Actor as Actor, ActorSystem as ActorSystem
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
    "Actor",
    "ActorDeadError",
    "ActorError",
    "ActorRef",
    "ActorStore",
    "ActorSystem",
    "Envelope",
    "Journal",
    "Mailbox",
    "MailboxFullError",
    "MailboxStats",
    "Registry",
    "RegistryStats",
    "Reply",
    "RunCancelledError",
    "Signal",
    "SignalLike",
    "StoreActor",
    "StoreStats",
    "Strategy",
    "Submit",
    "Telemetry",
    "ThreadActor",
    "ThreadBusyError",
    "ThreadStats",
    "Turn",
    "new_id",
    "new_signal",
]
