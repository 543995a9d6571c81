"""The loaded heap is frozen once the worker is ready, and again after a model swap."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from streams.faust_glue import gc_freeze
from streams.faust_glue.gc_freeze import FULL_PASS_EVERY, HeapFreezer


class Awaited(asyncio.Event):
    """An event that tells when someone has begun to wait on it."""

    def __init__(self) -> None:
        super().__init__()
        self.awaited = asyncio.Event()

    async def wait(self) -> bool:
        self.awaited.set()
        return await super().wait()


@pytest.fixture
def freezes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reason of every freeze, in order (each still freezes)."""
    reasons: list[str] = []
    real = gc_freeze.freeze_long_lived

    def freeze(reason: str) -> None:
        reasons.append(reason)
        real(reason)

    monkeypatch.setattr(gc_freeze, "freeze_long_lived", freeze)
    return reasons


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def test_freezes_when_ready_and_again_after_a_swap(freezes: list[str]) -> None:
    features, model = asyncio.Event(), Awaited()
    freezer = HeapFreezer([features, model])
    await freezer.start()
    try:
        freezer.after_swap()  # the first model arrives before the start-up freeze
        features.set()
        await asyncio.wait_for(model.awaited.wait(), 1)  # past the first, waiting on the next
        assert gc.get_freeze_count() == 0, "nothing frozen before model and features load"

        model.set()
        await asyncio.wait_for(freezer.frozen.wait(), 1)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[2] == FULL_PASS_EVERY, "full passes spaced out once frozen"

        gc.unfreeze()
        freezer.after_swap()
        assert gc.get_freeze_count() > 0, "a swapped-in model is frozen too"
    finally:
        await freezer.stop()
    # Once at the start, once for the swap: none before both loaded, none of its own.
    assert freezes == ["started", "model_swapped"]


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
