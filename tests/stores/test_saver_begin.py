"""``arecord(..., begin=run)``: a run's header and first record in one atomic step."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest

from stores import CheckpointConflictError, MemorySaver, RedisSaver

from .test_memory_saver import ckpt, rec, run


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def any_saver(request: pytest.FixtureRequest) -> AsyncGenerator[Any]:
    if request.param == "memory":
        yield MemorySaver()
        return
    redis_url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    async with RedisSaver(redis_url, prefix=prefix) as saver:
        yield saver


async def test_begin_with_first_record_replaces_the_old_run(any_saver: Any) -> None:
    await any_saver.acommit("t", ckpt(1), expected_version=0)
    await any_saver.abegin_run("t", run("old", base_version=1))
    await any_saver.arecord("t", "old", rec("0:a"))
    await any_saver.arecord("t", "new", rec("0:b"), begin=run("new", base_version=1))
    state = await any_saver.aload("t")
    assert state.run is not None and state.run.run_id == "new"
    assert [r.task_id for r in state.records] == ["0:b"]
    await any_saver.arecord("t", "new", rec("1:c"))
    assert [r.task_id for r in (await any_saver.aload("t")).records] == ["0:b", "1:c"]


async def test_begin_is_fenced_on_the_base_version(any_saver: Any) -> None:
    await any_saver.acommit("t", ckpt(1), expected_version=0)
    await any_saver.acommit("t", ckpt(2), expected_version=1)
    with pytest.raises(CheckpointConflictError, match="version 2"):
        await any_saver.arecord(
            "t", "stale", rec("0:a"), begin=run("stale", base_version=1)
        )
    state = await any_saver.aload("t")
    assert state.run is None and state.records == []


async def test_begin_must_name_the_same_run(any_saver: Any) -> None:
    with pytest.raises(ValueError, match="run_id"):
        await any_saver.arecord("t", "a", rec("0:a"), begin=run("b"))
