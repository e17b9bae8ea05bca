"""``AsyncBatchedBaseStore``: LangGraph's name for a store that implements only ``abatch``."""

from __future__ import annotations

from ._base import BaseStore


class AsyncBatchedBaseStore(BaseStore):
    """Subclass it and implement ``abatch``; every other method is built on it.

    As ``BaseStore`` itself: the name is LangGraph's
    (``langgraph.store.base.batch``). LangGraph's class also gathers
    concurrent calls into one ``abatch`` with a background task; here
    batching across callers is the runtime's store actor's job (a store
    passed to ``@entrypoint(store=...)`` is batched that way), and a direct
    call sends its own batch.
    """
