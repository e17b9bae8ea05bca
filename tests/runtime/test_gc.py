"""``Runtime(tune_gc=...)``: the collector settings while Runtimes run, restored after."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from runtime import Runtime, entrypoint
from runtime._gc import ALIGNED_THRESHOLDS, STOCK_THRESHOLDS, TUNED_THRESHOLDS
from stores import MemorySaver

from .conftest import thread


@pytest.fixture
def stock() -> Iterator[None]:
    """The interpreter's collector as on Python 3.11 and 3.12, restored after the test."""
    before = gc.get_threshold()
    gc.set_threshold(*STOCK_THRESHOLDS)
    yield
    gc.set_threshold(*before)


def _counter() -> Any:
    @entrypoint(checkpointer=MemorySaver())
    async def count(_: Any, *, previous: int | None = None) -> int:
        return (previous or 0) + 1

    return count


@pytest.mark.usefixtures("stock")
async def test_by_default_the_collector_is_left_alone() -> None:
    async with Runtime():
        assert gc.get_threshold() == STOCK_THRESHOLDS
        assert await _counter().ainvoke(None, thread()) == 1
    assert gc.get_threshold() == STOCK_THRESHOLDS


@pytest.mark.usefixtures("stock")
async def test_aligned_uses_python_3_13s_young_threshold_then_restores() -> None:
    async with Runtime(tune_gc="aligned"):
        assert gc.get_threshold() == ALIGNED_THRESHOLDS
        assert await _counter().ainvoke(None, thread()) == 1
    assert gc.get_threshold() == STOCK_THRESHOLDS


@pytest.mark.usefixtures("stock")
async def test_an_applications_own_thresholds_are_left_alone() -> None:
    gc.set_threshold(1234, 5, 6)
    async with Runtime(tune_gc="aligned"):
        assert gc.get_threshold() == (1234, 5, 6)
    async with Runtime(tune_gc=False):
        assert gc.get_threshold() == (1234, 5, 6)
    assert gc.get_threshold() == (1234, 5, 6)


@pytest.mark.usefixtures("stock")
async def test_tune_gc_false_never_touches_the_collector() -> None:
    async with Runtime(tune_gc=False):
        assert gc.get_threshold() == STOCK_THRESHOLDS


@pytest.mark.usefixtures("stock")
async def test_tune_gc_true_freezes_and_raises_until_the_last_runtime_exits() -> None:
    async with Runtime(tune_gc="aligned"):
        async with Runtime(tune_gc=True):
            assert gc.get_threshold() == TUNED_THRESHOLDS
            assert gc.get_freeze_count() > 0
            assert await _counter().ainvoke(None, thread()) == 1
        # the tuned Runtime left; the aligned one still runs
        assert gc.get_threshold() == ALIGNED_THRESHOLDS
        assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == STOCK_THRESHOLDS


@pytest.mark.usefixtures("stock")
async def test_overlapping_short_lived_runtimes_restore_the_settings() -> None:
    count = _counter()  # outside a Runtime each call gets a short-lived one
    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(count.ainvoke, None, thread(f"short-{i}"))
    assert gc.get_threshold() == STOCK_THRESHOLDS
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("bad", ["yes", 1, 0.5, None])
def test_a_bad_tune_gc_is_a_clear_error(bad: Any) -> None:
    with pytest.raises(ValueError, match="tune_gc must be False"):
        Runtime(tune_gc=bad)
