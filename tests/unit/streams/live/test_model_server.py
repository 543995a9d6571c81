"""Alias polling and hot swap, with in-process resolvers standing in for the registry."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pandas as pd

from schemas import ModelRef
from streams.live.model_server import ModelServer
from streams.metrics import Metrics


class Registry:
    """Alias -> version, and a load counter; ``down`` makes every call fail."""

    def __init__(self) -> None:
        self.aliases = {"champion": "1"}
        self.down = False
        self.broken_versions: set[str] = set()
        self.loads: list[str] = []
        self.refusals = 0
        #: Set once a resolve was refused twice: a caller that tried again after a failure.
        self.refused_twice = threading.Event()  # resolves run in threads

    def resolve(self, alias: str) -> ModelRef:
        if self.down:
            self.refusals += 1
            if self.refusals >= 2:
                self.refused_twice.set()
            raise ConnectionError("registry unreachable")
        return ModelRef(name="soccer_clf", version=self.aliases[alias], alias=alias, run_id="r")

    def load(self, ref: ModelRef) -> Constant:
        if self.down:
            raise ConnectionError("registry unreachable")
        self.loads.append(ref.version)
        return Broken() if ref.version in self.broken_versions else Constant(int(ref.version))


class Broken:
    """Loads fine but answers with the wrong shape."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.ones((len(frame), 2))


class Constant:
    def __init__(self, version: int) -> None:
        self.version = version

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.tile([0.5, 0.3, 0.2], (len(frame), 1))


def server(registry: Registry) -> ModelServer:
    return ModelServer(registry, "champion", Metrics(), poll_seconds=30.0)


async def test_first_refresh_loads_and_becomes_ready() -> None:
    registry = Registry()
    models = server(registry)
    assert not models.ready.is_set()
    assert await models.refresh()
    assert models.ready.is_set() and models.current.ref.version == "1"


async def test_unchanged_alias_does_not_reload() -> None:
    registry = Registry()
    models = server(registry)
    await models.refresh()
    assert not await models.refresh()
    assert registry.loads == ["1"]


async def test_moved_alias_swaps_to_the_new_version() -> None:
    registry = Registry()
    models = server(registry)
    await models.refresh()
    registry.aliases["champion"] = "2"
    assert await models.refresh()
    assert models.current.ref.version == "2" and models.current.predictor.version == 2


async def test_unreachable_registry_keeps_the_current_model() -> None:
    registry = Registry()
    models = server(registry)
    await models.refresh()
    registry.down = True
    assert not await models.refresh()
    assert models.current.ref.version == "1"
    assert "registry unreachable" in models.last_error


async def test_no_model_at_start_is_not_ready_and_says_why() -> None:
    registry = Registry()
    registry.down = True
    models = server(registry)
    assert not await models.refresh()
    assert models.current is None and not models.ready.is_set()
    assert models.last_error.startswith("resolve:")


async def test_a_model_that_fails_warm_up_is_not_swapped_in() -> None:
    registry = Registry()
    models = server(registry)
    await models.refresh()
    registry.aliases["champion"] = "2"
    registry.broken_versions.add("2")
    assert not await models.refresh()
    assert models.current.ref.version == "1" and models.last_error.startswith("load:")


async def test_challenger_is_reported_when_present() -> None:
    registry = Registry()
    registry.aliases["challenger"] = "3"
    models = server(registry)
    await models.refresh()
    assert models.challenger is not None and models.challenger.version == "3"


async def test_the_poller_retries_until_the_registry_answers_then_tells_listeners() -> None:
    registry = Registry()
    registry.down = True
    models = ModelServer(registry, "champion", Metrics(), poll_seconds=0.05)
    swapped: list[str] = []
    models.on_swap.append(lambda model: swapped.append(model.ref.version))
    await models.start()
    try:
        assert await asyncio.to_thread(registry.refused_twice.wait, 5), "no retry"
        assert not models.ready.is_set() and swapped == []
        registry.down = False
        await asyncio.wait_for(models.ready.wait(), 2)
        assert swapped == ["1"]
    finally:
        await models.stop()
    assert models.should_stop


async def test_challengers_load_beside_the_champion_and_follow_their_aliases() -> None:
    registry = Registry()
    registry.aliases |= {"challenger": "2", "other": "1"}
    models = ModelServer(
        registry, "champion", Metrics(), 30.0, challenger_aliases=("challenger", "other")
    )
    await models.refresh()
    assert models.current.ref.version == "1"
    # "other" points at the champion's version: not run twice.
    assert {a: m.ref.version for a, m in models.challengers.items()} == {"challenger": "2"}
    registry.aliases["challenger"] = "3"
    await models.refresh()
    assert models.challengers["challenger"].ref.version == "3"
    assert registry.loads == ["1", "2", "3"]


async def test_a_broken_challenger_is_reported_and_not_reloaded_every_poll() -> None:
    registry = Registry()
    registry.aliases["challenger"] = "2"
    registry.broken_versions.add("2")
    models = ModelServer(registry, "champion", Metrics(), 30.0, challenger_aliases=("challenger",))
    for _ in range(3):
        await models.refresh()
    assert models.current.ref.version == "1" and models.last_error is None
    assert models.challengers == {} and "challenger" in models.challenger_errors
    assert registry.loads == ["1", "2"], "the broken version was loaded once, not per poll"
    registry.aliases["challenger"] = "3"  # the alias moved: try the new version at once
    await models.refresh()
    assert models.challengers["challenger"].ref.version == "3"
    assert "challenger" not in models.challenger_errors


async def test_a_promotion_loads_nothing_and_the_old_champion_keeps_predicting_in_shadow() -> None:
    registry = Registry()
    registry.aliases["challenger"] = "2"
    models = server(registry)
    await models.refresh()
    assert registry.loads == ["1", "2"]
    registry.aliases["champion"] = "2"  # the challenger is promoted; its alias stays on it
    assert await models.refresh()
    assert models.current.ref.version == "2" and models.current.ref.alias == "champion"
    assert {a: m.ref.version for a, m in models.challengers.items()} == {"challenger": "1"}
    assert models.challengers["challenger"].ref.alias == "challenger"
    registry.aliases["challenger"] = "1"  # the alias follows the demoted champion
    await models.refresh()
    assert {a: m.ref.version for a, m in models.challengers.items()} == {"challenger": "1"}
    assert registry.loads == ["1", "2"], "a swap of two loaded versions loads neither"
    registry.aliases["challenger"] = "3"  # a new challenger replaces the demoted one
    await models.refresh()
    assert {a: m.ref.version for a, m in models.challengers.items()} == {"challenger": "3"}


async def test_an_alias_moved_onto_the_champion_without_a_promotion_stops_its_shadow() -> None:
    registry = Registry()
    registry.aliases["challenger"] = "2"
    models = server(registry)
    await models.refresh()
    registry.aliases["challenger"] = "1"
    await models.refresh()
    assert models.challengers == {}
