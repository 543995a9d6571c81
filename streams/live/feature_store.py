"""The serving copy of the feature tables: loaded off the event loop, swapped under a lock.

Readers take ``store.current`` once per batch and use that snapshot for the whole batch,
so a swap never mixes two versions inside one batch. A new snapshot replaces the old one
only after it loaded completely; a broken file keeps the old one and is reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import structlog

from schemas.features import TABLE_FILES
from streams.live.feature_snapshot import FeatureSnapshot, FeatureTableError, load_snapshot
from streams.metrics import Metrics
from streams.polling import PollingService

log = structlog.get_logger(__name__)
FileSignature = tuple[tuple[int, int, int] | None, ...]


def file_signature(features_dir: Path) -> FileSignature:
    """(inode, size, mtime) of each table file: changes whenever any file is replaced."""
    out = []
    for name in TABLE_FILES:
        try:
            st = (features_dir / name).stat()
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)


class FeatureStore(PollingService):
    """Holds the current snapshot and reloads it when the files change."""

    def __init__(self, features_dir: Path, metrics: Metrics, poll_seconds: float) -> None:
        super().__init__(poll_seconds)
        self.features_dir = features_dir
        self.metrics = metrics
        self.current: FeatureSnapshot | None = None
        self.last_error: str | None = None
        self._signature: FileSignature | None = None
        self._lock = asyncio.Lock()
        self.ready = asyncio.Event()
        #: Called on the event loop with each new snapshot (the team ratings rebase on it).
        self.on_swap: list[Callable[[FeatureSnapshot], None]] = []

    async def reload_if_changed(self) -> bool:
        """Load a new snapshot if the files changed; True when one was swapped in."""
        async with self._lock:  # one reload at a time, so two can never race a swap
            signature = await asyncio.to_thread(file_signature, self.features_dir)
            if signature == self._signature:
                return False
            try:
                snapshot = await asyncio.to_thread(load_snapshot, self.features_dir)
            except FeatureTableError as exc:
                # Remember the broken signature so the same files are not re-read every
                # poll; a fixed file changes the signature and is picked up.
                self._signature = signature
                self.last_error = str(exc)
                self.metrics.feature_reload_errors.inc()
                log.warning("feature_tables_rejected", error=str(exc), kept=self.version)
                return False
            self._signature = signature
            self.current = snapshot
            self.last_error = None
            for listener in self.on_swap:
                listener(snapshot)
            self.ready.set()
            log.info(
                "feature_tables_loaded",
                version=snapshot.version,
                teams=len(snapshot.teams),
                matches=len(snapshot.fixtures),
            )
            return True

    @property
    def version(self) -> str | None:
        return self.current.version if self.current else None

    async def poll(self) -> None:
        await self.reload_if_changed()
        if self.current is not None:
            self.metrics.feature_age.set(self.current.age_seconds())
