"""ActorSystem: spawning, supervision, shutdown."""

from __future__ import annotations

import logging

import anyio
import pytest

from actors import ActorDeadError, ActorSystem
from actors._actor import ActorRef

from ._support import Crash, Echo, Hold, close_mailboxes


async def test_spawn_returns_only_after_on_start_finished() -> None:
    gate = anyio.Event()
    actor = Echo(start_gate=gate)
    refs: list[ActorRef[object]] = []

    async def spawner(system: ActorSystem) -> None:
        refs.append(await system.spawn(actor))

    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            tg.start_soon(spawner, system)
            await actor.entered_start.wait()
            await anyio.wait_all_tasks_blocked()
            assert refs == [], "spawn returned before on_start finished"
            gate.set()
            await actor.started.wait()
    assert len(refs) == 1
    assert refs[0] is actor.ref


async def test_spawned_actor_serves_right_away() -> None:
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            ref = await system.spawn(Echo("a"))
            assert ref.name == "a"
            assert await ref.ask(1) == 1


async def test_on_start_error_propagates_from_spawn() -> None:
    actor = Echo(start_error=ValueError("cannot load state"))
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            with pytest.raises(ValueError, match="cannot load state"):
                await system.spawn(actor)
            assert actor.ref.stopped
            # the system survives a failed activation
            assert await (await system.spawn(Echo())).ask("ok") == "ok"


async def test_crash_is_logged_and_spares_siblings_and_system(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="actors")
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            doomed = await system.spawn(Echo("doomed"))
            sibling = await system.spawn(Echo("sibling"))
            await doomed.tell(Crash())
            await doomed.wait_stopped()
            assert await sibling.ask("still here") == "still here"
            assert not system.closed
            assert await (await system.spawn(Echo("late"))).ask(2) == 2
            with pytest.raises(ActorDeadError):
                await doomed.ask("dead")
    crashes = [r for r in caplog.records if "doomed" in r.getMessage()]
    assert len(crashes) == 1
    assert crashes[0].levelno == logging.ERROR
    assert crashes[0].exc_info is not None
    assert isinstance(crashes[0].exc_info[1], RuntimeError)


async def test_crash_fails_the_asks_queued_behind_it() -> None:
    outcomes: list[object] = []

    async def ask(ref: ActorRef[object], msg: str) -> None:
        try:
            outcomes.append(await ref.ask(msg))
        except ActorDeadError:
            outcomes.append("dead")

    gate = anyio.Event()
    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            ref = await system.spawn(Echo(mailbox_size=4))
            tg.start_soon(ref.ask, Hold(gate))
            await anyio.wait_all_tasks_blocked()
            await ref.tell(Crash())
            tg.start_soon(ask, ref, "after the crash")
            await anyio.wait_all_tasks_blocked()
            gate.set()
            await ref.wait_stopped()
    assert outcomes == ["dead"]


async def test_leaving_the_system_stops_actors_and_fails_pending_asks() -> None:
    gate = anyio.Event()
    outcomes: dict[str, object] = {}
    actor = Echo(mailbox_size=2)

    async def ask(msg: str) -> None:
        try:
            outcomes[msg] = await actor.ref.ask(msg)
        except ActorDeadError as exc:
            outcomes[msg] = ("dead", exc.retriable)

    async def held() -> None:
        outcomes["held"] = await actor.ref.ask(Hold(gate, "finished"))

    async def release_once_stopping() -> None:
        await actor.notifying_ref.stopping.wait()  # the system is closing
        gate.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            async with ActorSystem() as system:
                await system.spawn(actor)
                tg.start_soon(held)
                await anyio.wait_all_tasks_blocked()
                for msg in ("q1", "q2", "blocked sender"):
                    tg.start_soon(ask, msg)
                    await anyio.wait_all_tasks_blocked()
                assert actor.ref.mailbox_statistics().waiting_senders == 1
                tg.start_soon(release_once_stopping)
            # the system waited for the actor: the held request finished
            assert actor.ref.stopped
    assert outcomes == {
        "held": "finished",
        "q1": ("dead", True),
        "q2": ("dead", True),
        "blocked sender": ("dead", True),
    }
    assert system.closed


async def test_spawning_after_close_raises() -> None:
    actor = Echo()
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            pass
        assert system.closed
        with pytest.raises(RuntimeError, match="not running"):
            await system.spawn(actor)
    assert not actor.entered_start.is_set()
    close_mailboxes([actor])  # see the test below


async def test_spawning_before_enter_raises() -> None:
    actor = Echo()
    system = ActorSystem()
    with anyio.fail_after(5), pytest.raises(RuntimeError, match="not running"):
        await system.spawn(actor)
    assert not actor.entered_start.is_set()
    close_mailboxes([actor])


async def test_a_refused_spawn_closes_the_actors_mailbox() -> None:
    # A Registry activating a key while the system shuts down builds an actor
    # and has its spawn refused; its mailbox must not stay open (a ref that
    # leaked would accept messages nobody reads, and the unclosed memory
    # streams raise ResourceWarning when collected).
    actor = Echo()
    try:
        with anyio.fail_after(5):
            async with ActorSystem() as system:
                pass
            with pytest.raises(RuntimeError, match="not running"):
                await system.spawn(actor)
        assert actor.mailbox.statistics().closed
        with pytest.raises(ActorDeadError):
            actor.ref.tell_nowait("nobody reads this")
    finally:
        close_mailboxes([actor])


async def test_a_system_is_entered_once() -> None:
    system = ActorSystem()
    with anyio.fail_after(5):
        async with system:
            pass
        with pytest.raises(RuntimeError, match="only once"):
            async with system:
                pass


async def test_an_error_in_the_body_propagates_unwrapped() -> None:
    actor = Echo()

    async def body() -> None:
        async with ActorSystem() as system:
            await system.spawn(actor)
            raise KeyError("from the body")

    with anyio.fail_after(5), pytest.raises(KeyError, match="from the body"):
        await body()
    assert actor.ref.stopped


class _Expiring(Echo):
    """An Echo that the system's sweeper may stop once idle for ``idle_timeout``."""

    def __init__(self, name: str, idle_timeout: float) -> None:
        super().__init__(name)
        self.idle_timeout = idle_timeout
        self.last_used = anyio.current_time()
        self.sweeps: list[float] = []

    def expire(self, now: float) -> None:
        self.sweeps.append(now)
        if now - self.last_used >= self.idle_timeout:
            self.mailbox.close()


async def test_the_sweeper_expires_idle_actors_within_a_quarter_timeout() -> None:
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            start = anyio.current_time()  # before last_used is taken
            quick, slow = _Expiring("quick", 0.04), _Expiring("slow", 60.0)
            await system.spawn(slow)
            await system.spawn(quick)
            await quick.ref.wait_stopped()
            waited = anyio.current_time() - start
            assert 0.04 <= waited < 0.04 * 1.25 + 0.5  # the sweep period is 1/4
            assert not slow.ref.stopped  # same sweeps, not idle long enough
            # it was swept too, in the sweep that stopped the quick one
            assert slow.sweeps and max(slow.sweeps) - start >= 0.04


async def test_a_long_idle_timeout_never_delays_shutdown() -> None:
    with anyio.fail_after(2):  # the sweeper sleeps 75 s: closing must cancel it
        async with ActorSystem() as system:
            await system.spawn(_Expiring("a", 300.0))
