"""The loaded heap is frozen once the worker is ready, and again after a model swap."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from streams.faust_glue.gc_freeze import FULL_PASS_EVERY, HeapFreezer


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def test_freezes_when_ready_and_again_after_a_swap() -> None:
    loaded = [asyncio.Event(), asyncio.Event()]
    freezer = HeapFreezer(loaded)
    await freezer.start()
    try:
        freezer.after_swap()  # the first model arrives before the start-up freeze
        loaded[0].set()
        await asyncio.sleep(0.05)
        assert gc.get_freeze_count() == 0, "nothing frozen before model and features load"

        loaded[1].set()
        await asyncio.wait_for(freezer.frozen.wait(), 1)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[2] == FULL_PASS_EVERY, "full passes spaced out once frozen"

        gc.unfreeze()
        await asyncio.sleep(0.05)
        assert gc.get_freeze_count() == 0, "no new freeze while the same model serves"
        freezer.after_swap()
        assert gc.get_freeze_count() > 0, "a swapped-in model is frozen too"
    finally:
        await freezer.stop()


async def test_recovered_tables_are_frozen_after_the_start_up_freeze() -> None:
    loaded = asyncio.Event()
    freezer = HeapFreezer([loaded])
    await freezer.start()
    try:
        await freezer.after_recovery(object())
        assert gc.get_freeze_count() == 0, "a recovery before the start-up freeze waits for it"

        loaded.set()
        await asyncio.wait_for(freezer.frozen.wait(), 1)
        gc.unfreeze()
        recovered = [{"record": i} for i in range(1000)]  # what a recovery reads back
        await freezer.after_recovery(object(), generation_id=2)
        assert gc.get_freeze_count() >= len(recovered), "the recovered tables are frozen"
    finally:
        await freezer.stop()
