"""Errors raised by the runtime, and the tree of everything a caller can catch.

``runtime`` exports every error that ``invoke``/``ainvoke``/``stream``/
``astream`` and the state methods can raise, so a caller imports them from
one place. Three trees, one per layer, plus the chat models' error:

RunError                        the run itself (this module)
├── ReplayDivergedError         (also RuntimeError) a resumed run called different tasks
├── NothingToResumeError        (also ValueError) Command(resume=...) with no pending interrupt
├── SerializationError          (also TypeError) a value cannot be checkpointed
├── TaskTimeoutError            (also TimeoutError) a task attempt outlived its timeout=
└── RemoteError                 a cluster member's error that could not travel as itself
ActorError                      the thread's actor (actors)
├── ActorDeadError              the Runtime stopped before the request ran
├── MailboxFullError            a non-waiting send found the mailbox full
├── ThreadBusyError             (also RuntimeError) multitask_strategy="reject" on a busy thread
└── RunCancelledError           a newer request interrupted or rolled back this run
StoreError                      a store or checkpointer (stores)
├── StoreUnavailableError       Redis unreachable (or the embedded one failed to start)
│   └── EmbeddedRedisError
├── InvalidNamespaceError       (also ValueError) a bad namespace or key
├── InvalidValueError           (also TypeError) a store value that is not a JSON dict
├── InvalidFilterError          (also ValueError) a filter that cannot be parsed
├── InvalidIndexConfigError     (also ValueError) a bad index configuration
├── CheckpointConflictError     another writer moved the thread on
│   └── FencedError             a cluster member's lease on the thread was superseded
└── CorruptCheckpointError      stored bytes failed to decode
ChatModelError                  a chat model call failed after the SDK's retries (runtime.models)

Errors raised by your own entrypoint or task code reach you as they are.
"""

from __future__ import annotations


class RunError(Exception):
    """Base class of errors raised by the runtime itself."""


class ReplayDivergedError(RunError, RuntimeError):
    """A resumed run called a different task where the recorded run called another; keep task calls deterministic."""


class NothingToResumeError(RunError, ValueError):
    """Command(resume=...) was sent to a thread with no pending interrupt; send a normal input instead."""


class SerializationError(RunError, TypeError):
    """A value returned by a task or entrypoint cannot be checkpointed; return msgpack-able data."""


_HINTS = {401: "check the API key", 404: "check the model and base_url"}


class ChatModelError(Exception):
    """A chat-model call failed after the SDK's own retries; the message says what to check.

    ``status_code`` is the HTTP status (None for connection errors and
    malformed responses) and ``provider`` is "anthropic" or "openai".
    """

    def __init__(
        self, message: str, *, provider: str, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code

    @classmethod
    def from_exception(cls, provider: str, exc: BaseException) -> ChatModelError:
        """Translate an SDK, transport or decoding error (raise the result ``from exc``)."""
        status = getattr(exc, "status_code", None)
        detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        what = f"HTTP {status}" if isinstance(status, int) else type(exc).__name__
        hint = _HINTS.get(status or 0, "check base_url and the server, or retry later")
        return cls(
            f"{provider} request failed ({what}): {detail}; {hint}",
            provider=provider,
            status_code=status,
        )


class TaskTimeoutError(RunError, TimeoutError):
    """A task attempt ran longer than its ``timeout=``; raise the timeout or retry it with a retry_policy."""


class RemoteError(RunError):
    """An error raised on the cluster member that ran the request, which could not be sent as itself."""
