"""Errors raised by the actor layer.

ActorError
├── ActorDeadError        the actor stopped before it handled the request
├── MailboxFullError      a non-waiting send found the mailbox full
├── ThreadBusyError       (also RuntimeError) multitask_strategy="reject" on a busy thread
└── RunCancelledError     a newer request interrupted or rolled back this run
"""

from __future__ import annotations


class ActorError(Exception):
    """Base class of every error raised by the actor layer."""


class ActorDeadError(ActorError):
    """The actor stopped before handling the request; retry on a running system.

    ``retriable`` is True when the request was never started, so sending it
    again (to a fresh activation of the same actor) cannot run it twice.
    """

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class MailboxFullError(ActorError):
    """The mailbox is full; use the waiting ``tell``/``ask`` or raise the mailbox size."""


class ThreadBusyError(ActorError, RuntimeError):
    """The thread is running another request and multitask_strategy is "reject"; retry later."""


class RunCancelledError(ActorError):
    """A newer request on the same thread stopped this run (strategy "interrupt" or "rollback")."""
