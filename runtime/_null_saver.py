"""The checkpointer of an entrypoint without one: keeps nothing."""

from __future__ import annotations

from stores import Checkpoint, PendingRun, TaskRecord, ThreadState


class NullSaver:
    """The checkpointer of an entrypoint without one: keeps nothing."""

    async def aload(self, thread_id: str) -> ThreadState:
        return ThreadState()

    async def abegin_run(self, thread_id: str, run: PendingRun) -> None:
        return None

    async def arecord(
        self,
        thread_id: str,
        run_id: str,
        record: TaskRecord,
        *,
        begin: PendingRun | None = None,
    ) -> None:
        return None

    async def acommit(
        self,
        thread_id: str,
        checkpoint: Checkpoint,
        *,
        expected_version: int,
    ) -> None:
        return None

    async def adiscard_run(self, thread_id: str, run_id: str) -> None:
        return None

    async def alist(
        self, thread_id: str, *, limit: int | None = None, before: int | None = None
    ) -> list[Checkpoint]:
        return []

    async def aget(self, thread_id: str, checkpoint_id: str) -> Checkpoint | None:
        return None

    async def adelete_thread(self, thread_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None
