"""Forgetting matches: every table kept per match stays bounded.

The champion's state (``match_to_state``) and each read model (timelines, forecasts) are
swept alike: a finished match is kept ``FINISHED_MATCH_MINUTES`` after its last output (a
corrected result is scored again meanwhile), a match that never finished
``MATCH_MEMORY_HOURS``. Each worker forgets only matches of the partitions it owns, so a
standby copy never deletes what the owner is still writing. A delete is a tombstone on the
table's changelog, so a forgotten match leaves the changelog too once it is compacted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

import faust

from schemas import MatchState
from streams.faust_glue.partitions import owned_partitions, partition_of
from streams.flow.match_state import MatchStates
from streams.metrics import Metrics
from streams.polling import PollingService
from streams.sinks.kafka_sender import Outgoing
from streams.table_names import MATCH_STATE_TABLE

SWEEP_SECONDS = 60.0
#: Matches looked at between two yields to the event loop: a sweep of a large table must
#: not hold up the batches.
SWEEP_CHUNK = 500


class MatchStore(Protocol):
    """A table kept per match, as the janitor sweeps it."""

    name: str

    def match_ids(self) -> Iterable[str]: ...

    def is_expired(
        self, match_id: str, now: dt.datetime, ttl: dt.timedelta, finished_ttl: dt.timedelta
    ) -> bool: ...

    def forget(self, match_id: str) -> None: ...

    def prune(self) -> None: ...

    def changelog(self) -> list[Outgoing]:
        """The tombstones of what it forgot (and anything else it wrote), to produce."""
        ...


def state_expired(
    state: MatchState, now: dt.datetime, ttl: dt.timedelta, finished_ttl: dt.timedelta
) -> bool:
    """Whether a match's state has outlived its use."""
    finished = state.state is not None and state.state.status == "finished"
    return now - state.touched_at > (finished_ttl if finished else ttl)


class StateStore:
    """``match_to_state`` as the janitor sweeps it."""

    name = MATCH_STATE_TABLE

    def __init__(self, states: MatchStates) -> None:
        self.states = states

    def match_ids(self) -> Iterable[str]:
        return self.states.match_ids()

    def is_expired(
        self, match_id: str, now: dt.datetime, ttl: dt.timedelta, finished_ttl: dt.timedelta
    ) -> bool:
        state = self.states.get(match_id)
        return state is not None and state_expired(state, now, ttl, finished_ttl)

    def forget(self, match_id: str) -> None:
        self.states.delete(match_id)

    def prune(self) -> None:
        self.states.prune()

    def changelog(self) -> list[Outgoing]:
        return self.states.writer.take()


class MemoryJanitor(PollingService):
    """Sweeps every per-match table of this worker's partitions every minute."""

    def __init__(
        self,
        app: faust.App,
        stores: Sequence[MatchStore],
        source_topic: str,
        partitions: int,
        ttl: dt.timedelta,
        finished_ttl: dt.timedelta,
        metrics: Metrics,
        send_all: Callable[[list[Outgoing]], Awaitable[None]],
        interval: float = SWEEP_SECONDS,
    ) -> None:
        """``send_all`` produces the tombstones of the forgotten matches."""
        super().__init__(interval)
        self.send_all = send_all
        self.app = app
        self.stores = stores
        self.source_topic = source_topic
        self.partitions = partitions
        self.ttl = ttl
        self.finished_ttl = finished_ttl
        self.metrics = metrics
        self.forgotten = 0

    def owned(self) -> set[int]:
        return owned_partitions(self.app, self.source_topic)

    async def poll(self) -> None:
        owned = self.owned()
        for store in self.stores:
            held = 0
            if owned:
                held = await self.sweep(store, owned)
            store.prune()
            self.metrics.match_memories.labels(table=store.name).set(held)
            # Anything the store wrote meanwhile goes out too; the batches take theirs.
            tombstones = store.changelog()
            if tombstones:
                await self.send_all(tombstones)

    async def sweep(self, store: MatchStore, owned: set[int]) -> int:
        """Forget ``store``'s expired matches of the ``owned`` partitions; how many it
        still holds."""
        now = dt.datetime.now(dt.UTC)
        held = 0
        for i, match_id in enumerate(list(store.match_ids())):
            if i and not i % SWEEP_CHUNK:
                await asyncio.sleep(0)
            if partition_of(match_id, self.partitions) in owned and store.is_expired(
                match_id, now, self.ttl, self.finished_ttl
            ):
                store.forget(match_id)
                self.forgotten += 1
            else:
                held += 1
        return held
