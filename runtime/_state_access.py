"""Reading and writing a thread's state: ``get_state``, history, ``update_state``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from stores import Checkpoint, CheckpointSaver

from ._ambient import call_host
from ._run_options import prepare_config
from ._sync import run_sync
from ._turns import UpdateTurn
from ._types import StateSnapshot
from ._views import history_snapshots, snapshot_of


class StateAccess:
    """The state methods of an entrypoint (a mixin of ``Entrypoint``)."""

    name: str
    checkpointer: CheckpointSaver | None

    def _saver_and_thread(
        self, config: Mapping[str, Any] | None, what: str
    ) -> tuple[CheckpointSaver, str, dict[str, Any]]:
        if self.checkpointer is None:
            raise ValueError(
                f"{what} needs a checkpointer: use @entrypoint(checkpointer=MemorySaver())"
            )
        _, _, cfg = prepare_config(self.name, self.checkpointer, None, config)
        thread_id = cfg["configurable"]["thread_id"]
        return self.checkpointer, thread_id, cfg["configurable"]

    async def aget_state(
        self, config: Mapping[str, Any], *, subgraphs: bool = False
    ) -> StateSnapshot:
        """The thread's latest state (or the one at ``configurable.checkpoint_id``).

        Reads the checkpointer directly; raises ValueError without a
        checkpointer or thread id, or for ``subgraphs=True`` (an entrypoint
        invoked inside a run keeps no state in its caller's thread).
        """
        if subgraphs:
            raise ValueError(
                "get_state(subgraphs=True) is not supported: nested entrypoints keep "
                "their state on their own threads"
            )
        saver, thread_id, configurable = self._saver_and_thread(config, "get_state")
        checkpoint_id = configurable.get("checkpoint_id")
        if checkpoint_id is not None:
            checkpoint = await saver.aget(thread_id, str(checkpoint_id))
            parent = (
                await saver.aget(thread_id, checkpoint.parent_id)
                if checkpoint and checkpoint.parent_id
                else None
            )
            return snapshot_of(self.name, thread_id, checkpoint, None, [], parent)
        state = await saver.aload(thread_id)
        return snapshot_of(
            self.name, thread_id, state.latest, state.run, state.records, None
        )

    def get_state(
        self, config: Mapping[str, Any], *, subgraphs: bool = False
    ) -> StateSnapshot:
        """Blocking twin of ``aget_state``."""
        return run_sync(self.aget_state, config, subgraphs=subgraphs)

    async def aget_state_history(
        self,
        config: Mapping[str, Any],
        *,
        filter: Mapping[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        """The thread's checkpoints, newest first.

        ``filter`` keeps those whose metadata has each key with that value
        (before ``limit``); ``before`` (a config) keeps older ones.
        """
        for snap in await self._history(config, limit, before, filter):
            yield snap

    def get_state_history(
        self,
        config: Mapping[str, Any],
        *,
        filter: Mapping[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """Blocking twin of ``aget_state_history``."""
        return iter(run_sync(self._history, config, limit, before, filter))

    async def _history(
        self,
        config: Mapping[str, Any],
        limit: int | None,
        before: Mapping[str, Any] | None,
        filter: Mapping[str, Any] | None = None,
    ) -> list[StateSnapshot]:
        saver, thread_id, _ = self._saver_and_thread(config, "get_state_history")
        before_version: int | None = None
        if before is not None:
            anchor_config: Mapping[str, object] = before.get("configurable") or {}
            before_id = anchor_config.get("checkpoint_id")
            anchor = await saver.aget(thread_id, str(before_id)) if before_id else None
            if anchor is None:
                raise ValueError(
                    f"before= names no checkpoint of thread {thread_id!r}: {before!r}"
                )
            before_version = anchor.version
        checkpoints: list[Checkpoint] = await saver.alist(
            thread_id, limit=None if filter else limit, before=before_version
        )
        if filter:
            checkpoints = [
                c
                for c in checkpoints
                if all(c.metadata.get(k) == v for k, v in filter.items())
            ][:limit]
        return history_snapshots(self.name, thread_id, checkpoints)

    async def aupdate_state(
        self, config: Mapping[str, Any], values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        """Make ``values`` the thread's state and the next run's ``previous``.

        Queued behind the thread's runs. Returns the new checkpoint's config.
        """
        saver, thread_id, _ = self._saver_and_thread(config, "update_state")
        turn = UpdateTurn(values, as_node, self.name)
        async with call_host(saver, config) as host:
            checkpoint: Checkpoint = await host.ask(saver, thread_id, turn, "enqueue")
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_id": checkpoint.checkpoint_id,
            }
        }

    def update_state(
        self, config: Mapping[str, Any], values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        """Blocking twin of ``aupdate_state``."""
        return run_sync(self.aupdate_state, config, values, as_node)
