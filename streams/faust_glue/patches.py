"""Three patches to faust-streaming 0.15 internals, applied once: a fetch-wait tuning
(``bound_fetch_wait``) and two rebalance fixes (``stop_flow_before_seek``,
``uncommitted_seek_to_beginning``). Each has an ADR in ``docs/adr/``.

Each replaces a method on a Faust class with a wrapper around the original and is
idempotent. They reach into private internals of the exact minor versions in
:data:`WRITTEN_FOR`, so :func:`apply_faust_patches` refuses to start on any other
(:class:`UnsupportedFaust`): an upgrade is a deliberate change that re-runs the tests that
prove each patch, not something a worker finds out about in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from importlib.metadata import version
from typing import Any, Final

import structlog

log = structlog.get_logger(__name__)

#: How long the broker may hold a fetch that has no new records (Faust hard-codes 1.5 s):
#: a fetch for idle partitions holds up the next fetch of the busy ones this long.
FETCH_MAX_WAIT_MS = 10
#: A fetch waits at most 1 s for records (Faust's ``getmany(timeout=1.0)``), plus a hop.
FETCH_LANDING_SECONDS = 5.0
_MARK = "_soccerpredict_patched"
_FETCH_LANDED = "_soccerpredict_fetch_landed"
#: The minor versions the patches are written and tested for (also pinned in pyproject).
WRITTEN_FOR: Final[Mapping[str, str]] = {"faust-streaming": "0.15", "aiokafka": "0.14"}


class UnsupportedFaust(RuntimeError):
    """Faust or aiokafka is not the version the patches are written for; one line."""


def check_versions(installed: Callable[[str], str] = version) -> None:
    """Raise :class:`UnsupportedFaust` unless every package in :data:`WRITTEN_FOR` is there
    at its minor version."""
    for package, minor in WRITTEN_FOR.items():
        found = installed(package)
        if found.split(".")[:2] != minor.split("."):
            raise UnsupportedFaust(
                f"{package} {found} is installed, but the Faust patches are written for "
                f"{minor}.x (streams/faust_glue/patches.py, docs/adr/): pin {package}~={minor}.0 "
                "or port the patches and re-run their tests"
            )


def apply_faust_patches() -> None:
    """Check the versions, then apply every patch (idempotent)."""
    check_versions()
    bound_fetch_wait()
    stop_flow_before_seek()
    uncommitted_seek_to_beginning()


def _missing_hook(patch: str) -> UnsupportedFaust:
    return UnsupportedFaust(f"Faust patch {patch}: the method it wraps is gone; port the patch")


def _already(function: object) -> bool:
    return bool(getattr(function, _MARK, False))


def _mark(function: Callable[..., Any]) -> Callable[..., Any]:
    setattr(function, _MARK, True)
    return function


def bound_fetch_wait() -> None:
    """Make Faust's worker consumer ask for short fetch waits.

    aiokafka keeps one fetch in flight per broker and leaves out partitions whose records
    are still buffered. Under steady load the livescores partitions often are, so the
    next fetch names only idle partitions (match-requests) and the broker holds it for
    ``fetch_max_wait_ms``: livescores then arrive in bursts that late, for as long as the
    load lasts (docs/adr/0001-bound-fetch-wait.md has the measurements). Faust offers no
    setting for it, so the created consumer is adjusted before it starts (it reads the
    value then).
    """
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    create = getattr(AIOKafkaConsumerThread, "_create_worker_consumer", None)
    if create is None:
        raise _missing_hook("bound_fetch_wait")
    if _already(create):
        return

    def create_bounded(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = _mark(create_bounded)  # type: ignore[method-assign]


def stop_flow_before_seek() -> None:
    """Stop the consumer's delivery, and let an in-flight fetch land, before Faust seeks.

    After a rebalance Faust resumes the stream partitions, seeks them to their committed
    offsets, then resumes flow control, which empties every channel queue; the seek is
    meant to re-read what the emptied queues held. But flow is already active then, so
    records fetched from the old position can still be delivered after the seek: the
    rest of a batch the delivery loop is half-way through, or a fetch that was in flight
    in the consumer thread. Either moves the read offset past the seek, so the re-read
    records are dropped as already seen, and the jump in offsets is booked as a "gap"
    that counts as acknowledged: the emptied queues' records were never processed, yet
    their offsets could be committed: the scale-out test lost the head of the partitions
    taken over from a killed worker (docs/adr/0002-stop-flow-before-seek.md).

    So the seek first stops flow (``getmany`` checks ``flow_active`` per record, and a
    fetch that lands while flow is stopped is discarded and followed by its own seek),
    then waits for the in-flight fetch to land. Every caller of ``perform_seek`` resumes
    flow after it.
    """
    from faust.transport.consumer import Consumer, ThreadDelegateConsumer

    seek: Callable[[Any], Awaitable[None]] | None = getattr(Consumer, "perform_seek", None)
    fetch: Callable[..., Awaitable[Any]] | None = getattr(ThreadDelegateConsumer, "_getmany", None)
    if seek is None or fetch is None or not hasattr(Consumer, "stop_flow"):
        raise _missing_hook("stop_flow_before_seek")
    if _already(seek):
        return

    async def tracked_fetch(self: Any, active_partitions: Any, timeout: float) -> Any:
        landed = _fetch_landed(self)
        landed.clear()
        try:
            return await fetch(self, active_partitions, timeout)
        finally:
            landed.set()

    async def perform_seek(self: Any) -> None:
        self.stop_flow()
        landed = _fetch_landed(self)
        if not landed.is_set():
            try:
                await asyncio.wait_for(landed.wait(), FETCH_LANDING_SECONDS)
            except TimeoutError:
                log.warning("seek_without_fetch_landing", waited=FETCH_LANDING_SECONDS)
        await seek(self)

    ThreadDelegateConsumer._getmany = _mark(tracked_fetch)  # type: ignore[method-assign]
    Consumer.perform_seek = _mark(perform_seek)  # type: ignore[method-assign]


def _fetch_landed(consumer: Any) -> asyncio.Event:
    """Set while no fetch of ``consumer``'s delivery loop is in flight."""
    landed: asyncio.Event | None = getattr(consumer, _FETCH_LANDED, None)
    if landed is None:
        landed = asyncio.Event()
        landed.set()
        setattr(consumer, _FETCH_LANDED, landed)
    return landed


def uncommitted_seek_to_beginning() -> None:
    """Make "seek to committed" also rewind partitions that have no committed offset.

    Faust discards records fetched while flow is stopped and relies on the seek to the
    committed offsets to read them again. aiokafka's ``seek_to_committed`` leaves a
    partition without a committed offset where it is, though: past the discarded records.
    A worker killed before its first commit left such partitions; the survivor took them
    over, its first fetch (the whole backlog) was discarded around the rebalance, and the
    partitions were never read again (docs/adr/0003-uncommitted-seek-to-beginning.md). With
    ``auto_offset_reset="earliest"`` such a partition goes back to its beginning, which is
    where its reading started.
    """
    from faust.transport.consumer import ThreadDelegateConsumer

    seek: Callable[[Any], Awaitable[Any]] | None = getattr(
        ThreadDelegateConsumer, "seek_to_committed", None
    )
    if seek is None:
        raise _missing_hook("uncommitted_seek_to_beginning")
    if _already(seek):
        return

    async def seek_to_committed(self: Any) -> Any:
        committed = await seek(self)
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            # Stream partitions only: changelog positions are the table recovery's to set.
            uncommitted = [
                tp
                for tp, offset in committed.items()
                if (offset is None or offset < 0) and not self._is_changelog_tp(tp)
            ]
            if uncommitted:
                await self._thread.seek_to_beginning(*uncommitted)
        return committed

    ThreadDelegateConsumer.seek_to_committed = _mark(seek_to_committed)  # type: ignore[method-assign]
