"""Checkpointed values come back with their type, or are refused: never silently converted."""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import msgspec
import pytest

from runtime import Runtime, SerializationError, entrypoint
from runtime._serde import MAX_DEPTH, dumps, loads
from stores import MemorySaver

from .conftest import thread

SURROGATE = json.loads('"\\ud800"')


class Color(enum.Enum):
    RED = "red"


KEPT: list[Any] = [
    dt.datetime(2020, 1, 2, 3, 4, 5, 6),  # naive
    dt.datetime(2020, 1, 2, tzinfo=dt.UTC),
    dt.datetime(2020, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30))),
    dt.datetime(2020, 7, 1, 12, tzinfo=ZoneInfo("Europe/Paris")),
    dt.datetime(2021, 11, 7, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
    dt.date(2020, 1, 2),
    dt.time(3, 4, 5, 6),
    dt.time(3, 4, tzinfo=dt.timezone(dt.timedelta(hours=5))),
    dt.timedelta(days=-2, seconds=3, microseconds=4),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    Decimal("1.50"),
    Decimal("-Infinity"),
    frozenset({1, "a"}),
    {1, (2, 3)},
    (1, [2, (3,)]),
    {"nested": [{"when": dt.date(2000, 1, 1), "id": uuid.UUID(int=7)}]},
    {(1, "a"): "tuple key", 2: "int key"},
]


def same(a: Any, b: Any) -> bool:
    """Equal, of the same type, with the same tzinfo and fold, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dt.datetime | dt.time):
        return a == b and a.tzinfo == b.tzinfo and a.fold == b.fold
    return bool(a == b)


@pytest.mark.parametrize("value", KEPT, ids=lambda v: type(v).__name__)
def test_values_keep_their_type(value: Any) -> None:
    assert same(loads(dumps(value)), value)


REFUSED: list[tuple[Any, str]] = [
    (Color.RED, "Enum member.*Color.RED.value"),
    ({"c": [Color.RED]}, "Enum member"),
    (SURROGATE, "lone surrogate"),
    ({"text": f"a{SURROGATE}"}, "lone surrogate"),
    ({uuid.UUID(int=1): 1}, "dict with the key"),
    (2**70, "ints"),
    (object(), "cannot checkpoint a value of type object"),
]


@pytest.mark.parametrize(("value", "match"), REFUSED, ids=[m for _, m in REFUSED])
def test_values_that_cannot_be_kept_are_refused(value: Any, match: str) -> None:
    with pytest.raises(SerializationError, match=match):
        dumps(value)


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 2000, 50_000])
def test_deep_values_are_refused_not_a_recursion_error(levels: int) -> None:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    with pytest.raises(SerializationError, match=f"more than {MAX_DEPTH} levels"):
        dumps(value)
    for _ in range(levels - MAX_DEPTH):
        value = value[0]
    assert loads(dumps(value)) == value  # MAX_DEPTH levels are fine


async def test_previous_keeps_the_types_a_run_saved() -> None:
    saver = MemorySaver()
    saved = {
        "when": dt.datetime(2020, 1, 2, 3, 4),
        "day": dt.date(2020, 1, 2),
        "id": uuid.UUID(int=42),
        "amount": Decimal("9.99"),
        "tags": frozenset({"a"}),
    }

    @entrypoint(checkpointer=saver)
    async def wf(x: Any, *, previous: Any = None) -> Any:
        return previous if x == "read" else saved

    cfg = thread()
    async with Runtime():
        await wf.ainvoke("save", cfg)
        assert same(await wf.ainvoke("read", cfg), saved)


async def test_a_run_that_saves_an_enum_fails_and_keeps_the_thread() -> None:
    @entrypoint(checkpointer=MemorySaver())
    async def wf(x: Any, *, previous: Any = None) -> Any:
        return Color.RED if x == "enum" else [x, previous]

    cfg = thread()
    async with Runtime():
        assert await wf.ainvoke(1, cfg) == [1, None]
        with pytest.raises(SerializationError, match="Enum member"):
            await wf.ainvoke("enum", cfg)
        assert await wf.ainvoke(2, cfg) == [2, [1, None]]


async def test_an_input_with_a_lone_surrogate_is_refused_before_running() -> None:
    ran = anyio.Event()

    @entrypoint(checkpointer=MemorySaver())
    async def wf(x: Any) -> Any:
        ran.set()
        return x

    async with Runtime():
        with pytest.raises(SerializationError, match="lone surrogate"):
            await wf.ainvoke({"text": SURROGATE}, thread())
    assert not ran.is_set()


async def test_a_thread_id_with_a_lone_surrogate_is_a_value_error() -> None:
    saver = MemorySaver()
    with pytest.raises(ValueError, match="lone surrogate"):
        await saver.aload(f"t{SURROGATE}")

    @entrypoint(checkpointer=saver)
    async def wf(x: Any) -> Any:
        return x

    async with Runtime():
        with pytest.raises(ValueError, match=r"thread_id .* lone surrogate"):
            await wf.ainvoke(1, thread(f"t{SURROGATE}"))


def test_a_list_of_messages_encodes_as_each_message_does() -> None:
    # The fast paths for all-message and all-scalar lists and dicts give the
    # bytes the element-by-element walk gives (one array of each encoding).
    from runtime import AIMessage, HumanMessage

    messages = [HumanMessage(content="hi", id="1"), AIMessage(content="yo", id="2")]
    each = b"".join(dumps(m) for m in messages)
    assert dumps(messages) == b"\x92" + each
    assert dumps([*messages, 1]) == b"\x93" + each + dumps(1)
    assert dumps([1, "a", None]) == b"\x93" + dumps(1) + dumps("a") + dumps(None)
    assert dumps({"m": messages}) == b"\x81" + dumps("m") + dumps(messages)
    assert same(
        loads(dumps({"m": messages, "n": [1, (2,)]})), {"m": messages, "n": [1, (2,)]}
    )


def test_a_bad_key_is_refused_beside_plain_values() -> None:
    with pytest.raises(SerializationError, match="dict with the key"):
        dumps({"a": 1, frozenset({1}): 2})


@pytest.mark.parametrize("count", [1, 15, 16, 70_000])
def test_a_list_of_messages_decodes_as_the_element_walk_does(count: int) -> None:
    # loads reads an all-message list in one typed pass (array headers of each
    # size); it must give what the ext_hook walk gives, classes included.
    from runtime import AIMessage, HumanMessage
    from runtime._serde import _DECODER  # pyright: ignore[reportPrivateUsage]

    messages = [
        (HumanMessage if i % 2 else AIMessage)(content=f"m{i}", id=str(i))
        for i in range(count)
    ]
    data = dumps(messages)
    fast, walked = loads(data), _DECODER.decode(data)
    assert fast == walked == messages
    assert [type(m) for m in fast] == [type(m) for m in messages]


def test_lists_that_are_not_all_messages_take_the_general_path() -> None:
    from runtime import HumanMessage

    hi = HumanMessage(content="hi")
    for value in ([hi, (1, 2)], [hi, 1], [(1,), hi], [], [{1, 2}], [[hi]]):
        assert same(loads(dumps(value)), value)


def test_a_corrupt_message_list_fails_as_any_corrupt_checkpoint() -> None:

    from runtime import HumanMessage

    data = dumps([HumanMessage(content="hi"), HumanMessage(content="yo")])
    for bad in (
        data[:-1],
        data[:1] + b"\xc7\x02\x01\xff\xff" + data[1:],
        data + b"\x00",
    ):
        with pytest.raises(msgspec.DecodeError):
            loads(bad)
    tag = data.replace(b"human", b"nobod")  # a message type that does not exist
    with pytest.raises(msgspec.ValidationError, match="Invalid value 'nobod'"):
        loads(tag)


def test_a_long_history_leaves_the_collector_as_it_was() -> None:
    # loads pauses the cyclic collector while it decodes a long history; the
    # setting must come back however the decode ends, and stay off if it was.
    import gc

    from runtime import HumanMessage

    data = dumps([HumanMessage(content=f"message {i}") for i in range(5_000)])
    assert len(data) > 64 * 1024
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            assert len(loads(data)) == 5_000
            with pytest.raises(msgspec.DecodeError):
                loads(data[:-3])
            bad = data.replace(b"human", b"nobod", 1)
            with pytest.raises(msgspec.ValidationError):
                loads(bad)
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
