"""Errors raised by the runtime.

RunError
├── ReplayDivergedError     (also RuntimeError) a resumed run called different tasks
├── NothingToResumeError    (also ValueError) Command(resume=...) with no pending interrupt
├── SerializationError      (also TypeError) a value cannot be checkpointed
└── TaskTimeoutError        (also TimeoutError) a task attempt outlived its timeout=
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


class TaskTimeoutError(RunError, TimeoutError):
    """A task attempt ran longer than its ``timeout=``; raise the timeout or retry it with a retry_policy."""
