"""A long conversation thread, written to Redis as ``RedisSaver`` commits write it.

Committing N turns through the saver costs O(N²): each turn hands it the
whole save (the caller builds it, the saver compares it with the previous
one to find the appended tail). ``write_thread`` writes the same keys
directly, pipelined: entry ``v-0`` per turn with the checkpoint (``c``,
without its save) and the save whole (``s``, turn 1) or its tail (``d``,
``n``), and the snapshot hash (``P:{T}:snap``: ``v``, ``i``, ``s``) of the
last commit that was due one (every ``snapshot_every``-th tail; the key
holds only the newest). ``commit_thread`` writes the same turns through
``RedisSaver.acommit`` (for a small N): ``tests/stores/test_redis_snapshots``
and ``python -m bench.activation`` check that both leave identical keys.

Three kinds of value (``kind``), the first two a growing list, as a
conversation's history is:

- ``"messages"``: what the bench workload and the runtime save, a list of
  ``HumanMessage``/``AIMessage`` as the runtime encodes it (each message a
  msgpack extension 1 holding the Struct's msgpack); the checkpoint's value
  is the reply, its metadata what the runtime writes.
- ``"text"``: a list of short strings, no value.
- ``"window"``: the messages of the last ``WINDOW_TURNS`` turns only (what a
  chat service that keeps a bounded window in ``previous`` saves): past
  that, each turn drops the oldest pair, so the saver stores every save
  whole (it is not an append) and the state stays the same size however
  long the thread is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from runtime import AIMessage, HumanMessage
from stores import Checkpoint

if TYPE_CHECKING:
    import redis

    from stores.redis import RedisSaver

Kind = Literal["messages", "text", "window"]
KINDS: Final = ("messages", "text", "window")
WINDOW_TURNS: Final = 10
"""Turns (question and reply: 2 messages each) a ``"window"`` save keeps."""
_EXT_STRUCT: Final = 1  # the runtime's msgpack extension code for a message
_BATCH: Final = 2_000  # entries per pipelined write


def array_header(count: int) -> bytes:
    """The msgpack header of an array of ``count`` elements (each 0 is one byte)."""
    return msgspec.msgpack.encode([0] * count)[:-count] if count else b"\x90"


class Conversation:
    """The turns of one thread: turn ``v`` appends a question and its reply."""

    def __init__(self, thread_id: str, kind: Kind = "messages") -> None:
        self.thread_id = thread_id
        self.kind: Kind = kind

    def messages(self, v: int) -> tuple[HumanMessage, AIMessage]:
        """Turn ``v``'s question and reply (ids fixed, so any writer makes the same)."""
        return (
            HumanMessage(
                content=f"message {v:06d}: a question of about ten words or so",
                id=f"h{v:06d}",
            ),
            AIMessage(
                content=f"reply {v:06d}: an answer of about a dozen words, maybe more",
                id=f"a{v:06d}",
            ),
        )

    def tail(self, v: int) -> bytes:
        """Turn ``v``'s two elements as the save's msgpack encodes them."""
        if self.kind == "text":
            items: list[Any] = [f"message {v:06d}, some words", f"reply {v:06d}, more"]
        else:
            items = [_ext(m) for m in self.messages(v)]
        return msgspec.msgpack.encode(items)[1:]  # a fixarray of 2: one header byte

    def first(self, v: int) -> int:
        """The oldest turn the save after turn ``v`` holds."""
        return max(1, v - WINDOW_TURNS + 1) if self.kind == "window" else 1

    def appended(self, v: int) -> bool:
        """Whether turn ``v``'s save is turn ``v - 1``'s with ``tail(v)`` appended."""
        return v > 1 and self.first(v) == self.first(v - 1)

    def save(self, v: int, tails: list[bytes] | None = None) -> bytes:
        """The save after turn ``v`` (``tails``: those of turns 1..v, if at hand)."""
        first = self.first(v)
        if tails is None:
            tails = [b""] * (first - 1) + [self.tail(u) for u in range(first, v + 1)]
        return array_header(2 * (v - first + 1)) + b"".join(tails[first - 1 : v])

    def checkpoint(self, v: int, save: bytes = b"") -> Checkpoint:
        """Turn ``v``'s checkpoint, as its commit hands it to the saver."""
        checkpoint_id = f"{v:028x}"  # as long as the runtime's ids, and sortable
        parent_id = f"{v - 1:028x}" if v > 1 else None
        if self.kind == "text":
            value, metadata = b"", {}
        else:
            value = msgspec.msgpack.encode(_ext(self.messages(v)[1]))
            metadata = {
                "source": "loop",
                "step": v - 1,
                "parents": {},
                "run_id": f"{v:027x}r",
                "save_differs": True,
            }
        return Checkpoint(
            thread_id=self.thread_id,
            version=v,
            checkpoint_id=checkpoint_id,
            created_at=1.7e9 + v,
            value=value,
            save=save,
            metadata=metadata,
            parent_id=parent_id,
        )


def _ext(message: HumanMessage | AIMessage) -> msgspec.msgpack.Ext:
    return msgspec.msgpack.Ext(_EXT_STRUCT, msgspec.msgpack.encode(message))


def snapshot_version(turns: int, snapshot_every: int) -> int | None:
    """The version whose commit wrote the thread's snapshot last (None: none was due).

    Turn 1 stores its save whole; every later commit stores a tail, and
    the ``snapshot_every``-th tail since the last whole save writes one.
    """
    due = (turns - 1) // snapshot_every
    return 1 + due * snapshot_every if due else None


def write_thread(
    client: redis.Redis,
    key: str,
    conversation: Conversation,
    turns: int,
    snapshot_every: int,
) -> bytes:
    """Write ``turns`` commits of ``conversation`` to stream ``key``; the latest save.

    Deletes what was there first. Blocks (redis-py, pipelined).
    """
    client.delete(key, key + ":snap")
    tails = [conversation.tail(v) for v in range(1, turns + 1)]
    pipe = client.pipeline(transaction=False)
    chain, snap = (
        0,
        None,
    )  # tails since the last whole save or snapshot, as commits count
    for v in range(1, turns + 1):
        head = msgspec.msgpack.encode(conversation.checkpoint(v))
        if not conversation.appended(v):
            save = conversation.save(v, tails)
            pipe.execute_command("XADD", key, f"{v}-0", "c", head, "s", save)
            chain = 0
        else:
            tail = tails[v - 1]
            pipe.execute_command("XADD", key, f"{v}-0", "c", head, "d", tail, "n", 2)
            chain += 1
            if chain >= snapshot_every:
                chain, snap = 0, v
        if v % _BATCH == 0:
            pipe.execute()
    assert conversation.kind == "window" or snap == snapshot_version(
        turns, snapshot_every
    )
    if snap is not None:
        checkpoint_id = conversation.checkpoint(snap).checkpoint_id
        save = conversation.save(snap, tails)
        pipe.hset(
            key + ":snap", mapping={"v": f"{snap}-0", "i": checkpoint_id, "s": save}
        )
    pipe.execute()
    return conversation.save(turns, tails)


async def commit_thread(
    saver: RedisSaver, conversation: Conversation, turns: int
) -> bytes:
    """Commit ``turns`` turns of ``conversation`` through ``saver``; the latest save.

    O(turns²): for checking ``write_thread`` at a small N.
    """
    thread_id = conversation.thread_id
    await saver.adelete_thread(thread_id)
    await saver.aload(thread_id)
    tails: list[bytes] = []
    for v in range(1, turns + 1):
        tails.append(conversation.tail(v))
        checkpoint = conversation.checkpoint(v, conversation.save(v, tails))
        await saver.acommit(thread_id, checkpoint, expected_version=v - 1)
    return conversation.save(turns, tails)


def read_keys(client: redis.Redis, key: str) -> tuple[Any, Any]:
    """What a thread holds in Redis: its stream's entries and its snapshot hash."""
    return client.xrange(key), client.hgetall(key + ":snap")
