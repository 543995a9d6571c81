"""Batches of whatever has arrived: how the worker takes events from a Faust stream.

Faust's ``Stream.take_events(max_, within)`` waits up to ``within`` for a batch to fill,
which at low load is added latency on every event, and it stops filling the next batch
while one is being handled. :class:`ReadyTake` hands over what is already waiting at once;
while the caller still has work in flight it may wait for more (so batches grow with the
load), but never longer than that work takes, and never past ``max_`` events. Faust keeps
delivering into the buffer while a batch is handled, so its per-message cost overlaps the
batch's waits on the broker and Redis.

Nothing is acknowledged on the way: the caller acks each batch (:meth:`ReadyTake.ack`)
once its outputs are acknowledged, and a batch it never acks is read again after a
restart or a rebalance (at least once).

Built on the same Stream internals as ``take_events`` (a processor that fills the buffer,
the passive drainer, ``enable_acks``), written for faust-streaming 0.15 like the patches
(``streams.faust_glue.patches.WRITTEN_FOR``); docs/adr/0006-ready-take.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any

import faust
from faust.types import EventT


class ReadyTake:
    """Take batches of ready events from ``stream`` (use as ``async with``).

    Waits are plain asyncio futures, not mode's ``Service.wait``: that builds several
    futures per call, which costs more than the rest of a small batch. Stopping the agent
    cancels its task, which ends any wait here.
    """

    def __init__(
        self,
        stream: faust.StreamT,
        max_: int,
        on_buffered: Callable[[int], None] | None = None,
    ) -> None:
        """``on_buffered(n)`` is called each time an event arrives and after each take,
        with the number waiting: a taker that cannot keep up may pause the stream's
        partitions, and resume them once it has caught up."""
        if max_ < 1:
            raise ValueError("max_ must be at least 1")
        self.stream = stream
        self.max_ = max_
        self.on_buffered = on_buffered
        self._events: list[EventT] = []
        #: The taker waits on this until ``_want`` events are buffered.
        self._waiter: asyncio.Future[None] | None = None
        self._want = 1
        #: The drainer waits on this while the buffer is full.
        self._room: asyncio.Future[None] | None = None
        self._acks_were = True

    def _wake(self, _: object = None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _add(self, value: Any) -> Any:
        event = self.stream.current_event
        if event is None:
            raise RuntimeError("a Faust processor ran with no current event")
        self._events.append(event)
        if self.on_buffered is not None:
            self.on_buffered(len(self._events))
        if len(self._events) >= self._want:
            self._wake()
        if len(self._events) >= self.max_:
            # Strict: a batch never holds more than max_; delivery waits until it is taken.
            self._room = asyncio.get_running_loop().create_future()
            await self._room
        return value

    async def __aenter__(self) -> ReadyTake:
        stream: Any = self.stream
        self._acks_were = stream.enable_acks
        stream.enable_acks = False  # acks are the caller's, once outputs are acknowledged
        stream.add_processor(self._add)
        stream._enable_passive(aiter(stream.channel))  # the drainer feeds the processor
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stream: Any = self.stream
        stream.enable_acks = self._acks_were
        stream._processors.remove(self._add)

    @property
    def waiting(self) -> int:
        """Events that arrived and were not taken yet."""
        return len(self._events)

    async def _until(self, want: int) -> None:
        self._want = want
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def next(
        self, more_while: asyncio.Future[Any] | None = None, limit: int | None = None
    ) -> list[EventT]:
        """The events waiting now: at least one (waiting for it if there is none), at most
        ``max_`` (or ``limit``, when smaller).

        With ``more_while`` (the caller's oldest work in flight), a batch that is not full
        waits for more events until that work is done or the batch fills.
        """
        most = self.max_ if limit is None else min(limit, self.max_)
        if not self._events:
            await self._until(1)
        if more_while is not None and not more_while.done() and len(self._events) < most:
            more_while.add_done_callback(self._wake)
            try:
                await self._until(most)
            finally:
                more_while.remove_done_callback(self._wake)
        taken = self._events[:most]
        del self._events[:most]
        if self.on_buffered is not None:
            self.on_buffered(len(self._events))
        if self._room is not None and not self._room.done():
            self._room.set_result(None)
        return taken

    async def ack(self, events: list[EventT]) -> None:
        """Acknowledge ``events``: their offsets may now be committed."""
        for event in events:
            await self.stream.ack(event)
