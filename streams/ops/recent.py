"""The latest predictions this worker published, newest last, for the status page."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from schemas import Prediction

RECENT = 20


class RecentPredictions:
    """A bounded list of the last :data:`RECENT` predictions."""

    def __init__(self, size: int = RECENT) -> None:
        self._items: deque[Prediction] = deque(maxlen=size)

    def add(self, predictions: Sequence[Prediction]) -> None:
        self._items.extend(predictions)

    def newest_first(self) -> list[Prediction]:
        return list(reversed(self._items))
