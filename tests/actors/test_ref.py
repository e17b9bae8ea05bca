"""ActorRef and Reply: ask, tell, reply callbacks, stopping."""

from __future__ import annotations

import anyio
import pytest

from actors import ActorDeadError, ActorSystem, MailboxFullError, Reply
from actors._actor import Envelope

from ._support import Echo, Fail, Hold

# -- Reply ----------------------------------------------------------------------


async def test_reply_delivers_the_first_value_only() -> None:
    reply = Reply()
    assert not reply.done
    reply.set_result(1)
    reply.set_result(2)
    reply.set_error(ValueError("late"))
    assert reply.done
    with anyio.fail_after(5):
        assert await reply.wait() == 1


async def test_reply_raises_the_delivered_error_in_the_waiter() -> None:
    reply = Reply()
    error = KeyError("missing")
    reply.set_error(error)
    reply.set_result("ignored")
    with anyio.fail_after(5), pytest.raises(KeyError) as info:
        await reply.wait()
    assert info.value is error


async def test_reply_wait_blocks_until_delivered() -> None:
    reply = Reply()
    got: list[object] = []

    async def waiter() -> None:
        got.append(await reply.wait())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            assert got == []
            reply.set_result("ok")
    assert got == ["ok"]


def test_on_done_callbacks_fire_exactly_once() -> None:
    reply = Reply()
    calls: list[str] = []
    reply.on_done(lambda: calls.append("before"))
    assert calls == []
    reply.set_result(1)
    assert calls == ["before"]
    reply.set_result(2)
    reply.set_error(RuntimeError("late"))
    assert calls == ["before"]
    reply.on_done(lambda: calls.append("after"))  # already done: called at once
    assert calls == ["before", "after"]


def test_on_done_fires_on_error_too() -> None:
    reply = Reply()
    calls: list[bool] = []
    reply.on_done(lambda: calls.append(reply.done))
    reply.set_error(ValueError("x"))
    reply.set_error(ValueError("y"))
    assert calls == [True]


def test_envelope_without_reply_ignores_answers() -> None:
    env = Envelope("msg", None)
    assert env.reply_done
    env.succeed(1)
    env.fail(ValueError("nobody listens"))
    asked = Envelope("msg", Reply())
    assert not asked.reply_done
    asked.succeed(1)
    assert asked.reply_done


# -- ActorRef -------------------------------------------------------------------


async def test_ask_returns_the_handlers_value() -> None:
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            ref = await system.spawn(Echo())
            assert await ref.ask("ping") == "ping"
            assert await ref.ask({"n": 1}) == {"n": 1}


async def test_ask_reraises_the_handlers_error() -> None:
    error = LookupError("no such thing")
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            ref = await system.spawn(Echo())
            with pytest.raises(LookupError) as info:
                await ref.ask(Fail(error))
            assert info.value is error
            assert await ref.ask("still alive") == "still alive"


async def test_tell_is_handled_in_order_without_a_reply() -> None:
    actor = Echo()
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            ref = await system.spawn(actor)
            await ref.tell("a")
            ref.tell_nowait("b")
            assert await ref.ask("c") == "c"
            assert actor.handled == ["a", "b", "c"]


async def test_tell_nowait_raises_mailbox_full_while_the_actor_is_busy() -> None:
    gate = anyio.Event()
    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            ref = await system.spawn(Echo(mailbox_size=1))
            tg.start_soon(ref.ask, Hold(gate))
            await anyio.wait_all_tasks_blocked()  # the actor holds the first message
            ref.tell_nowait("fills the mailbox")
            with pytest.raises(MailboxFullError):
                ref.tell_nowait("one too many")
            assert ref.mailbox_statistics().depth == 1
            gate.set()


async def test_tell_waits_while_the_mailbox_is_full() -> None:
    gate = anyio.Event()
    told = anyio.Event()

    async def teller() -> None:
        await ref.tell("waits")
        told.set()

    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            ref = await system.spawn(Echo(mailbox_size=1))
            tg.start_soon(ref.ask, Hold(gate))
            await anyio.wait_all_tasks_blocked()
            ref.tell_nowait("fills the mailbox")
            tg.start_soon(teller)
            await anyio.wait_all_tasks_blocked()
            assert not told.is_set()
            assert ref.mailbox_statistics().waiting_senders == 1
            gate.set()
            await told.wait()


async def test_stop_and_wait_stopped() -> None:
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            ref = await system.spawn(Echo())
            assert not ref.stopped
            ref.stop()
            await ref.wait_stopped()
            assert ref.stopped
            assert ref.mailbox_statistics().closed
            with pytest.raises(ActorDeadError) as info:
                await ref.ask("too late")
            assert info.value.retriable
            with pytest.raises(ActorDeadError):
                await ref.tell("too late")


async def test_asks_queued_when_the_actor_stops_fail_with_actor_dead() -> None:
    gate = anyio.Event()
    results: dict[str, object] = {}

    async def ask(msg: str) -> None:
        try:
            results[msg] = await ref.ask(msg)
        except ActorDeadError as exc:
            results[msg] = ("dead", exc.retriable)

    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            ref = await system.spawn(Echo(mailbox_size=1))
            tg.start_soon(ref.ask, Hold(gate, "held"))
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(ask, "queued")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(ask, "blocked sender")  # waits: the mailbox is full
            await anyio.wait_all_tasks_blocked()
            ref.stop()
            gate.set()  # Echo finishes the held message, then stops
            await ref.wait_stopped()
    assert results == {
        "queued": ("dead", True),
        "blocked sender": ("dead", True),
    }
