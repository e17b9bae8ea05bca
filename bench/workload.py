"""The shared workload: users, messages, the fake chat model, the embedder, the check.

Nothing here imports either system; ``bench/ours.py`` and
``bench/langgraph_side.py`` wire these pieces into their own entrypoints so
both run byte-for-byte the same turn:

1. search ``("memories", user_id)`` with the last message as query (limit 10);
2. if the message says "remember", put ``{"data": message}`` there;
3. call the fake chat model with the history and the memories found;
4. save ``add_messages(previous, [message, reply])`` with ``entrypoint.final``.

Every text starts with an id token (``<user>-s<j>`` for a seeded memory,
``<user>-c<k>-t<t>`` for a message), so a reply can cite the memories it
was given and the check can tell whose they were. The fake reply is a pure
function of the history and the memories, and encodes a digest of the
history: a lost or reordered message shows up as a wrong answer.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

PROBE = "__probe__"
"""Input that makes the entrypoint return its saved history (untimed, for the check)."""

MEMORY_LIMIT = 10
TOPICS = (
    "sailing", "jazz", "chess", "ramen", "hiking", "pottery", "tango", "astronomy",
    "cycling", "origami", "opera", "surfing", "baking", "climbing", "poetry", "tennis",
)  # fmt: skip


# -- the embedder ------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _slot(token: str, dims: int) -> tuple[int, float]:
    h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
    return h % dims, (1.0 if (h >> 32) & 1 else -1.0)


def embed_text(text: str, dims: int) -> list[float]:
    """Signed feature hashing of whitespace tokens, L2-normalised."""
    counts: dict[int, float] = {}
    for token in text.lower().split():
        i, sign = _slot(token, dims)
        counts[i] = counts.get(i, 0.0) + sign
    norm = math.sqrt(sum(v * v for v in counts.values())) or 1.0
    vec = [0.0] * dims  # only the touched slots are written: this runs once per text
    for i, v in counts.items():
        vec[i] = v / norm
    return vec


class HashEmbedder:
    """Deterministic offline embedder, the same for both systems.

    Usable as a plain callable ``fn(texts) -> vectors``, as an object with
    ``aembed_documents``/``aembed_query`` (ours), and through its bound
    ``aembed_documents`` as LangGraph's async ``embed`` function.
    """

    def __init__(self, dims: int = 256) -> None:
        self.dims = dims

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        return [embed_text(t, self.dims) for t in texts]

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return embed_text(text, self.dims)


# -- the fake chat model -----------------------------------------------------


def history_digest(history: Sequence[tuple[str, str]]) -> str:
    """A short digest of ``(role, content)`` pairs; roles are "human" and "ai"."""
    h = hashlib.blake2b(digest_size=8)
    for role, content in history:
        h.update(f"{role}\x1f{content}\x1e".encode())
    return h.hexdigest()


def fake_reply(history: Sequence[tuple[str, str]], memories: Sequence[str]) -> str:
    """The model's answer: the last message's id, the history digest and the memory ids."""
    mid = history[-1][1].split(maxsplit=1)[0]
    ids = sorted(m.split(maxsplit=1)[0] for m in memories)
    return f"re {mid} n={len(history)} h={history_digest(history)} mem={','.join(ids)}"


class FakeModel:
    """A chat model with a configurable latency and a deterministic answer."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self.latency = latency_ms / 1000.0

    async def areply(
        self, history: Sequence[tuple[str, str]], memories: Sequence[str]
    ) -> str:
        if self.latency > 0:
            await anyio.sleep(self.latency)
        return fake_reply(history, memories)


def memory_key(text: str) -> str:
    """The store key for a "remember" message: its id token."""
    return text.split(maxsplit=1)[0]


# -- users, conversations, messages ------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One run's sizes; ``tag`` makes its thread and user ids unique in a shared Redis."""

    tag: str
    users: int = 100
    conversations: int = 10
    turns: int = 5
    concurrency: int | None = None
    """Conversations in flight at once (None: all of them). The bench runs at
    least ``--min-turns`` turns per row, so at C=1 it is 100 conversations
    one after another, not one conversation of 5 turns."""
    memories_per_user: int = 10
    latency_ms: float = 0.0
    dims: int = 256
    natural_ids: bool = False
    """``u1``, ``u10``: one user id is a text prefix of another (see bench/NOTES.md).
    By default ids are zero-padded to one width, ``u00`` ... ``u99``."""

    @property
    def in_flight(self) -> int:
        """C: how many conversations run at once."""
        return self.conversations if self.concurrency is None else self.concurrency

    def user_id(self, i: int) -> str:
        if self.natural_ids:
            return f"{self.tag}u{i}"
        return f"{self.tag}u{i:0{len(str(self.users - 1))}d}"

    def thread_id(self, k: int) -> str:
        return f"{self.tag}c{k}"

    def user_of(self, k: int) -> str:
        return self.user_id(k % self.users)

    def seed_memories(self) -> list[tuple[str, str, str]]:
        """``(user_id, key, text)`` for every seeded memory."""
        out: list[tuple[str, str, str]] = []
        for i in range(self.users):
            user = self.user_id(i)
            for j in range(self.memories_per_user):
                a, b = (
                    TOPICS[(i + j) % len(TOPICS)],
                    TOPICS[(3 * i + 5 * j + 1) % len(TOPICS)],
                )
                out.append(
                    (user, f"{user}-s{j}", f"{user}-s{j} {user} likes {a} and {b}")
                )
        return out

    def message(self, k: int, t: int) -> str:
        """The user's message on turn ``t`` (1-based) of conversation ``k``."""
        mid, cw = f"{self.user_of(k)}-c{k}-t{t}", self.thread_id(k)
        topic = TOPICS[(7 * k + t) % len(TOPICS)]
        if is_remember_turn(t):
            return f"{mid} remember {cw} {cw} likes {topic}"
        return f"{mid} {cw} {cw} tell me about {topic}"


def is_remember_turn(t: int) -> bool:
    """Every third turn asks the model to remember something."""
    return t % 3 == 0


# -- the check ---------------------------------------------------------------


@dataclass
class Conversation:
    """What the harness sent and got back on one thread."""

    k: int
    transcript: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    replies: list[tuple[int, str]] = field(default_factory=list)
    """(turn, reply) as received; checked after the timed phase."""


class Checker:
    """Checks each reply (after the timed phase, in turn order) and each thread's saved history."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.embedder = HashEmbedder(spec.dims)
        self._texts = {key: text for _, key, text in spec.seed_memories()}
        for k in range(spec.conversations):
            for t in range(1, spec.turns + 1):
                if is_remember_turn(t):
                    text = spec.message(k, t)
                    self._texts[memory_key(text)] = text

    def check_reply(self, conv: Conversation, t: int, reply: str) -> None:
        """Append the turn to ``conv.transcript``; note in ``conv.wrong`` what is off."""
        spec, k = self.spec, conv.k
        message = spec.message(k, t)
        conv.transcript.append(("human", message))
        problem = self._reply_problem(conv, t, message, reply)
        conv.transcript.append(("ai", reply))
        if problem:
            conv.wrong.append(f"{spec.thread_id(k)} turn {t}: {problem}: {reply!r}")

    def _reply_problem(
        self, conv: Conversation, t: int, message: str, reply: str
    ) -> str | None:
        expected_head = f"re {memory_key(message)} n={len(conv.transcript)} h={history_digest(conv.transcript)} mem="
        if not reply.startswith(expected_head):
            return f"expected a reply starting {expected_head!r}"
        cited = [c for c in reply[len(expected_head) :].split(",") if c]
        if len(set(cited)) != len(cited):
            return "a memory was cited twice"
        user = self.spec.user_of(conv.k)
        foreign = [
            c for c in cited if c not in self._texts or not c.startswith(user + "-")
        ]
        if foreign:
            return f"memories of another user or unknown: {foreign}"
        own_later = [
            c
            for c in cited
            if c.startswith(f"{user}-c{conv.k}-t") and int(c.rsplit("t", 1)[1]) >= t
        ]
        if own_later:
            return f"memories this thread has not written yet: {own_later}"
        floor = min(
            MEMORY_LIMIT,
            self.spec.memories_per_user
            + sum(1 for s in range(1, t) if is_remember_turn(s)),
        )
        if not floor <= len(cited) <= MEMORY_LIMIT:
            return f"{len(cited)} memories found, expected {floor} to {MEMORY_LIMIT}"
        missing = self._missing_own(conv.k, t, message, set(cited))
        return f"own earlier memories not found: {missing}" if missing else None

    def _missing_own(self, k: int, t: int, query: str, cited: set[str]) -> list[str]:
        """Own earlier memories absent from the results although they had to be there.

        A memory this thread wrote on an earlier turn exists (read your
        writes), so it must be among the top 10 unless 10 memories that could
        exist by then score at least as high (within float32 slack).
        """
        user = self.spec.user_of(k)
        own = {f"{user}-c{k}-t{s}" for s in range(1, t) if is_remember_turn(s)}
        absent = own - cited
        if not absent:
            return []
        q = self.embedder([query])[0]
        scores = {
            key: sum(
                a * b for a, b in zip(q, embed_text(text, self.spec.dims), strict=True)
            )
            for key, text in self._texts.items()
            if key.startswith(user + "-")
        }
        return sorted(
            m
            for m in absent
            if sum(1 for key, v in scores.items() if key != m and v >= scores[m] - 1e-3)
            < MEMORY_LIMIT
        )

    def check_history(self, conv: Conversation, saved: list[tuple[str, str]]) -> None:
        """The saved history must be exactly what was sent and answered, 2*T messages."""
        tid = self.spec.thread_id(conv.k)
        if len(saved) != 2 * self.spec.turns:
            conv.wrong.append(
                f"{tid}: saved history has {len(saved)} messages, expected {2 * self.spec.turns}"
            )
        elif saved != conv.transcript:
            first = next(
                i
                for i, (a, b) in enumerate(zip(saved, conv.transcript, strict=True))
                if a != b
            )
            conv.wrong.append(
                f"{tid}: saved message {first} is {saved[first]!r}, expected {conv.transcript[first]!r}"
            )

    def expected_memories(self, user_index: int) -> int:
        """How many memories the user's namespace holds after the run."""
        spec = self.spec
        convs = sum(
            1 for k in range(spec.conversations) if k % spec.users == user_index
        )
        remembers = sum(1 for t in range(1, spec.turns + 1) if is_remember_turn(t))
        return spec.memories_per_user + convs * remembers


class Side:
    """The harness's view of one system: seed, turn, history, count.

    ``chat`` is the system's entrypoint and ``store`` its store; both sides
    call them the same way. ``read`` turns the system's messages into
    ``(role, text)`` pairs. ``tracing`` is ours' ``BenchTracing``, or None.
    """

    def __init__(
        self,
        chat: Any,
        store: Any,
        read: Callable[[Any], list[tuple[str, str]]],
        tracing: Any = None,
    ) -> None:
        self._chat = chat
        self._store = store
        self._read = read
        self.tracing = tracing

    async def seed(self, user_id: str, key: str, text: str) -> None:
        await self._store.aput(("memories", user_id), key, {"data": text})

    async def turn(self, thread_id: str, user_id: str, text: str) -> str:
        config = {"configurable": {"thread_id": thread_id, "user_id": user_id}}
        response = await self._chat.ainvoke(text, config)
        return str(response.content)

    async def history(self, thread_id: str, user_id: str) -> list[tuple[str, str]]:
        config = {"configurable": {"thread_id": thread_id, "user_id": user_id}}
        return self._read(await self._chat.ainvoke(PROBE, config))

    async def count(self, user_id: str) -> int:
        return len(await self._store.asearch(("memories", user_id), limit=1000))
