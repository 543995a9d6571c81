"""The loaded heap is frozen once the worker is ready, and again after a model swap."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from streams.gc_freeze import freeze_when_loaded


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_freezes_when_ready_and_again_after_a_swap() -> None:
    ready = [asyncio.Event(), asyncio.Event()]
    serving = {"model": object()}
    task = asyncio.create_task(
        freeze_when_loaded(lambda: serving["model"], ready, check_seconds=0.01)
    )
    await asyncio.sleep(0.05)
    ready[0].set()
    await asyncio.sleep(0.05)
    assert gc.get_freeze_count() == 0, "nothing frozen before model and features are loaded"

    ready[1].set()
    await asyncio.sleep(0.05)
    first = gc.get_freeze_count()
    assert first > 0

    gc.unfreeze()
    await asyncio.sleep(0.05)
    assert gc.get_freeze_count() == 0, "no new freeze while the same model serves"
    serving["model"] = object()
    await asyncio.sleep(0.05)
    assert gc.get_freeze_count() > 0, "a swapped-in model is frozen too"
    task.cancel()
