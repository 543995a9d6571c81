"""Forgetting matches: every table kept per match stays bounded, in age and in number.

The champion's state (``match_to_state``) and each read model (timelines, forecasts) are
swept alike: a finished match is kept ``FINISHED_MATCH_MINUTES`` after its last output (a
corrected result is scored again meanwhile), a match that never finished
``MATCH_MEMORY_HOURS``. Each worker forgets only matches of the partitions it owns, so a
standby copy never deletes what the owner is still writing, and nothing while its tables
are being recovered. A delete is a tombstone on the
table's changelog, so a forgotten match leaves the changelog too once it is compacted.

Age alone does not bound a worker: a producer that sends thousands of new match ids a
second (by mistake or on purpose) would grow every table for ``MATCH_MEMORY_HOURS``. So
every second each table is also held to ``MATCH_MEMORY_LIMIT`` matches of this worker's
partitions: past it, the matches never followed live (requests only, no livescore) are
forgotten first, then the others, each least recently written first (the tables list
their matches in that order: ``streams.faust_glue.recency``). A match whose livescores keep
coming survives a flood of request-only ids.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
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
#: How often each table is held to its limit: at thousands of new ids a second, a table
#: grows past it by at most a second's worth.
LIMIT_SECONDS = 1.0
#: Matches looked at between two yields to the event loop: a sweep of a large table must
#: not hold up the batches.
SWEEP_CHUNK = 500


class MatchStore(Protocol):
    """A table kept per match, as the janitor sweeps it."""

    name: str

    def match_ids(self) -> Iterable[str]:
        """Every match held, least recently written first."""
        ...

    def count(self) -> int:
        """How many matches it holds (standby copies too); cheap, called every second."""
        ...

    def followed(self, match_id: str) -> bool:
        """Whether the match has had a livescore (else it has only been requested)."""
        ...

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

    def count(self) -> int:
        return self.states.count()

    def followed(self, match_id: str) -> bool:
        state = self.states.get(match_id)
        return state is not None and state.state is not None

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
    """Holds every per-match table of this worker's partitions to ``limit`` matches every
    second, and sweeps out the expired ones every minute."""

    def __init__(
        self,
        app: faust.App,
        stores: Sequence[MatchStore],
        source_topic: str,
        partitions: int,
        ttl: dt.timedelta,
        finished_ttl: dt.timedelta,
        limit: int,
        metrics: Metrics,
        send_all: Callable[[list[Outgoing]], Awaitable[None]],
        interval: float = LIMIT_SECONDS,
        sweep_seconds: float = SWEEP_SECONDS,
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
        self.limit = limit
        self.metrics = metrics
        self.sweep_seconds = sweep_seconds
        self.forgotten = 0
        self._swept_at: float | None = None

    def owned(self) -> set[int]:
        return owned_partitions(self.app, self.source_topic)

    def recovering(self) -> bool:
        """Whether a rebalance or a table recovery is under way: a table then holds values
        whose tombstones are still to be read, and may be over its limit for a moment."""
        return bool(self.app.rebalancing or self.app.in_recovery)

    async def poll(self) -> None:
        owned = set() if self.recovering() else self.owned()
        now = time.monotonic()
        due = self._swept_at is None or now - self._swept_at >= self.sweep_seconds
        sweep = bool(owned) and due
        if sweep:
            self._swept_at = now
        for store in self.stores:
            if sweep:
                await self.sweep(store, owned)
            if owned:
                await self.hold_to_limit(store, owned)
            if sweep:
                store.prune()
            self.metrics.match_memories.labels(table=store.name).set(store.count())
            await self._flush(store)

    async def _flush(self, store: MatchStore) -> None:
        """Produce the tombstones of what ``store`` forgot, and wait for their acks.
        Anything the store wrote meanwhile goes out too; the batches take theirs."""
        tombstones = store.changelog()
        if tombstones:
            await self.send_all(tombstones)

    def _mine(self, match_id: str, owned: set[int]) -> bool:
        if len(owned) >= self.partitions:
            return True  # a worker alone owns every match
        return partition_of(match_id, self.partitions) in owned

    async def sweep(self, store: MatchStore, owned: set[int]) -> int:
        """Forget ``store``'s expired matches of the ``owned`` partitions; how many it
        still holds."""
        now = dt.datetime.now(dt.UTC)
        held = 0
        for i, match_id in enumerate(list(store.match_ids())):
            if i and not i % SWEEP_CHUNK:
                await self._flush(store)
                await asyncio.sleep(0)
            if self._mine(match_id, owned) and store.is_expired(
                match_id, now, self.ttl, self.finished_ttl
            ):
                self._forget(store, match_id, "expired")
            else:
                held += 1
        return held

    async def hold_to_limit(self, store: MatchStore, owned: set[int]) -> int:
        """Forget the ``owned`` matches of ``store`` past ``limit``: those never followed
        live first, then the others, each least recently written first; how many."""
        if store.count() <= self.limit:
            return 0  # the usual case: one len()
        mine = []
        for i, match_id in enumerate(list(store.match_ids())):
            if i and not i % SWEEP_CHUNK:
                await asyncio.sleep(0)
            if self._mine(match_id, owned):
                mine.append(match_id)
        over = len(mine) - self.limit
        if over <= 0:
            return 0  # standby copies make up the rest: their owners hold them to it
        chosen: list[str] = []
        followed: list[str] = []  # oldest first, in case the others are too few
        for i, match_id in enumerate(mine):
            if len(chosen) >= over:
                break
            if i and not i % SWEEP_CHUNK:
                await asyncio.sleep(0)
            (followed if store.followed(match_id) else chosen).append(match_id)
        chosen += followed[: over - len(chosen)]
        for i, match_id in enumerate(chosen):
            if i and not i % SWEEP_CHUNK:
                # A chunk's tombstones at a time: the producer and the loop stay free.
                await self._flush(store)
                await asyncio.sleep(0)
            self._forget(store, match_id, "limit")
        return len(chosen)

    def _forget(self, store: MatchStore, match_id: str, reason: str) -> None:
        store.forget(match_id)
        self.forgotten += 1
        self.metrics.match_memories_forgotten.labels(table=store.name, reason=reason).inc()
