"""Registry: activation on demand, idle passivation, the LRU bound, retries."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from actors import (
    ActorDeadError,
    ActorSystem,
    Journal,
    Registry,
    RegistryStats,
    Submit,
    ThreadActor,
)
from actors._system import Actor
from stores import MemorySaver

from ._support import Echo, Fail, Hold, Turns, close_mailboxes

if TYPE_CHECKING:
    from collections.abc import Callable


class EchoFactory:
    """Builds one tagged Echo per activation and remembers them."""

    def __init__(self, start_gate: anyio.Event | None = None) -> None:
        self.start_gate = start_gate
        self.built: list[tuple[str, Echo]] = []

    def __call__(self, key: str, release: Callable[[], None]) -> Actor[Any]:
        actor = Echo(
            f"echo:{key}", start_gate=self.start_gate, tag=(key, len(self.built))
        )
        self.built.append((key, actor))
        return actor

    def keys(self) -> list[str]:
        return [key for key, _ in self.built]


async def test_activates_once_per_key_under_concurrent_callers() -> None:
    gate = anyio.Event()
    factory = EchoFactory(start_gate=gate)
    answers: list[object] = []

    async def caller(i: int) -> None:
        answers.append(await registry.ask("k", i))

    with anyio.fail_after(5):
        async with ActorSystem() as system:
            registry = Registry[str, Any](system, factory, max_active=10)
            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(caller, i)
                await anyio.wait_all_tasks_blocked()  # all 20 wait on one activation
                assert factory.keys() == ["k"]
                gate.set()
            assert factory.keys() == ["k"]
            assert sorted(answers, key=repr) == sorted(
                ((("k", 0), i) for i in range(20)), key=repr
            )
            assert registry.statistics() == RegistryStats(
                active=1, activations=1, passivations=0, evictions=0
            )
            assert await registry.get("k") is factory.built[0][1].ref


async def test_separate_keys_get_separate_actors() -> None:
    factory = EchoFactory()
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            registry = Registry[str, Any](system, factory, max_active=10)
            assert await registry.ask("a", 1) == (("a", 0), 1)
            assert await registry.ask("b", 2) == (("b", 1), 2)
            assert await registry.ask("a", 3) == (("a", 0), 3)
            assert registry.statistics().activations == 2


async def test_handler_errors_reach_the_caller_without_retry() -> None:
    factory = EchoFactory()
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            registry = Registry[str, Any](system, factory, max_active=10)
            with pytest.raises(ActorDeadError, match="not retriable"):
                await registry.ask("k", Fail(ActorDeadError("not retriable")))
            with pytest.raises(KeyError):
                await registry.ask("k", Fail(KeyError("x")))
            assert factory.keys() == ["k"]


async def test_failed_activation_raises_and_a_later_call_retries() -> None:
    attempts: list[str] = []

    def factory(key: str, release: Callable[[], None]) -> Actor[Any]:
        attempts.append(key)
        error = OSError("checkpointer down") if len(attempts) == 1 else None
        return Echo(start_error=error)

    with anyio.fail_after(5):
        async with ActorSystem() as system:
            registry = Registry[str, Any](system, factory, max_active=10)
            with pytest.raises(OSError, match="checkpointer down"):
                await registry.ask("k", 1)
            assert registry.statistics().active == 0
            assert await registry.ask("k", 2) == 2
            assert attempts == ["k", "k"]


# -- idle passivation (the real ThreadActor) ----------------------------------


async def test_idle_thread_actor_passivates_and_the_next_ask_reactivates() -> None:
    saver = MemorySaver()
    turns = Turns()
    built: list[ThreadActor] = []
    seen_versions: list[int] = []

    def factory(thread_id: str, release: Callable[[], None]) -> ThreadActor:
        actor = ThreadActor(
            thread_id, saver, mailbox_size=8, idle_timeout=0.05, on_release=release
        )
        built.append(actor)
        return actor

    async def peek(journal: Journal) -> int:
        seen_versions.append(journal.state.version)
        return journal.state.version

    with anyio.fail_after(10):
        async with ActorSystem() as system:
            registry = Registry[str, Submit](system, factory, max_active=10)
            assert await registry.ask("t", Submit(turns.commit("one"))) == 1
            await built[0].ref.wait_stopped()  # passivated by its idle timer
            assert registry.statistics() == RegistryStats(
                active=0, activations=1, passivations=1, evictions=0
            )
            # the next ask activates a fresh actor that replays the checkpoint
            assert await registry.ask("t", Submit(peek)) == 1
            assert len(built) == 2
            assert registry.statistics().activations == 2
            await built[1].ref.wait_stopped()
            assert registry.statistics().passivations == 2
    assert seen_versions == [1]


async def test_a_busy_thread_actor_does_not_passivate() -> None:
    saver = MemorySaver()
    turns = Turns()
    gate = anyio.Event()
    entered = anyio.Event()
    built: list[ThreadActor] = []

    def factory(thread_id: str, release: Callable[[], None]) -> ThreadActor:
        actor = ThreadActor(
            thread_id, saver, mailbox_size=8, idle_timeout=0.02, on_release=release
        )
        built.append(actor)
        return actor

    with anyio.fail_after(10):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            registry = Registry[str, Submit](system, factory, max_active=10)
            long_turn = turns.blocked("long", gate, entered=entered)
            tg.start_soon(registry.ask, "t", Submit(long_turn))
            await entered.wait()
            # Not waiting for a state: letting five idle timeouts pass, so a
            # timer that ignored the running turn would have fired.
            await anyio.sleep(0.1)
            assert built[0].statistics().busy
            assert not built[0].ref.stopped
            assert registry.statistics().passivations == 0
            gate.set()
            await built[0].ref.wait_stopped()
            assert registry.statistics().passivations == 1


# -- the LRU bound ----------------------------------------------------------------


async def test_lru_bound_evicts_the_least_recently_used_idle_actor() -> None:
    factory = EchoFactory()
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            registry = Registry[str, Any](system, factory, max_active=2)
            await registry.ask("a", 1)
            await registry.ask("b", 1)
            await registry.ask("a", 2)  # "b" is now the least recently used
            await registry.ask("c", 1)
            actors = dict(factory.built)
            await actors["b"].ref.wait_stopped()
            assert not actors["a"].ref.stopped
            assert not actors["c"].ref.stopped
            assert registry.statistics() == RegistryStats(
                active=2, activations=3, passivations=0, evictions=1
            )
            # "b" comes back on demand; "a" is now the LRU one and goes
            assert await registry.ask("b", 2) == (("b", 3), 2)
            await actors["a"].ref.wait_stopped()
            assert registry.statistics().evictions == 2


async def test_lru_bound_never_evicts_a_busy_actor() -> None:
    factory = EchoFactory()
    gate = anyio.Event()
    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            registry = Registry[str, Any](system, factory, max_active=2)
            tg.start_soon(registry.ask, "busy", Hold(gate, "done"))
            await anyio.wait_all_tasks_blocked()
            await registry.ask("b", 1)
            await registry.ask("c", 1)  # "busy" is the LRU one, but busy
            actors = dict(factory.built)
            await actors["b"].ref.wait_stopped()
            assert not actors["busy"].ref.stopped
            assert registry.statistics().evictions == 1
            gate.set()


async def test_new_key_is_served_while_every_other_actor_is_busy() -> None:
    # The bound is soft: with every warm actor busy, a new key must still be
    # served (over the bound) rather than having its fresh, idle actor evicted.
    factory = EchoFactory()
    gate = anyio.Event()
    try:
        with anyio.fail_after(5):
            async with ActorSystem() as system, anyio.create_task_group() as tg:
                registry = Registry[str, Any](system, factory, max_active=1)
                tg.start_soon(registry.ask, "busy", Hold(gate, "done"))
                await anyio.wait_all_tasks_blocked()
                try:
                    with anyio.fail_after(1):
                        assert await registry.ask("new", 1) == (("new", 1), 1)
                finally:
                    gate.set()
        assert factory.keys() == ["busy", "new"]
        assert registry.statistics().activations == 2
    finally:
        close_mailboxes(a for _, a in factory.built)  # those cancelled mid-spawn


# -- retry of a request refused by a passivating actor --------------------------


class Passivating(Actor[Any]):
    """Passivates at once: holds on ``hold`` (handling nothing), then releases."""

    def __init__(self, release: Callable[[], None], hold: anyio.Event) -> None:
        super().__init__("passivating", mailbox_size=8)
        self.release = release
        self.hold = hold

    async def main(self) -> None:
        await self.hold.wait()
        self.release()
        # returning leaves the queued messages to run(): they fail as retriable


async def test_retriable_actor_dead_from_a_passivating_actor_is_retried() -> None:
    hold = anyio.Event()
    built: list[Actor[Any]] = []

    def factory(key: str, release: Callable[[], None]) -> Actor[Any]:
        actor: Actor[Any] = (
            Passivating(release, hold) if not built else Echo(tag=len(built))
        )
        built.append(actor)
        return actor

    answers: list[object] = []

    async def caller() -> None:
        answers.append(await registry.ask("k", "hello"))

    with anyio.fail_after(5):
        async with ActorSystem() as system:
            registry = Registry[str, Any](system, factory, max_active=10)
            first = await registry.get("k")
            async with anyio.create_task_group() as tg:
                tg.start_soon(caller)
                await anyio.wait_all_tasks_blocked()
                assert first.mailbox_statistics().depth == 1  # queued in the old one
                hold.set()
            assert answers == [(1, "hello")]
            assert first.stopped
            assert len(built) == 2
            assert registry.statistics() == RegistryStats(
                active=1, activations=2, passivations=1, evictions=0
            )


async def test_registry_ask_after_the_system_closed_raises_cleanly() -> None:
    factory = EchoFactory()
    try:
        with anyio.fail_after(5):
            async with ActorSystem() as system:
                registry = Registry[str, Any](system, factory, max_active=10)
                await registry.ask("k", 1)
            with pytest.raises(RuntimeError, match="not running"):
                await registry.ask("k", 2)
        # an actor built for the refused activation must not be left open
        assert [a.mailbox.statistics().closed for _, a in factory.built] == [
            True
        ] * len(factory.built)
    finally:
        close_mailboxes(a for _, a in factory.built)


class Broken(Actor[Any]):
    """Starts fine, then crashes at once, every time (a deterministic bug)."""

    def __init__(self) -> None:
        super().__init__("broken", mailbox_size=8)

    async def main(self) -> None:
        await anyio.lowlevel.checkpoint()
        raise RuntimeError("broken actor")


async def test_an_actor_that_always_crashes_makes_ask_fail_not_spin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A crash fails the queued asks as retriable (they never started), and
    # Registry.ask retries retriable errors; with a deterministic crash that
    # must not become an endless activate-crash-retry loop.
    caplog.set_level(logging.CRITICAL, logger="actors")  # one line per crash
    built: list[Broken] = []

    def factory(key: str, release: Callable[[], None]) -> Actor[Any]:
        built.append(Broken())
        return built[-1]

    try:
        with anyio.fail_after(5):
            async with ActorSystem() as system:
                registry = Registry[str, Any](system, factory, max_active=10)
                with pytest.raises(ActorDeadError):  # a TimeoutError means it spun
                    with anyio.fail_after(1):
                        await registry.ask("k", 1)
        assert len(built) < 10
    finally:
        close_mailboxes(built)


def test_max_active_must_be_positive() -> None:
    system = ActorSystem()
    with pytest.raises(ValueError, match="max_active"):
        Registry[str, Any](system, EchoFactory(), max_active=0)
