"""An in-memory :data:`~streams.sinks.kafka_sender.Sender` for tests and benchmarks of the
flow without a broker (in the spirit of FastStream's ``TestKafkaBroker``)."""

from __future__ import annotations

import asyncio
from collections import deque

from streams.sinks.kafka_sender import Headers


class InMemorySender:
    """Records every acknowledged ``(key, value)``; can be told to fail the next sends."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []
        #: The headers of each of ``records`` (None for a record sent without).
        self.headers: list[Headers | None] = []
        #: The partition each of ``records`` was sent to (None: the partitioner's choice).
        self.partitions: list[int | None] = []
        self.attempts = 0
        self._failures: deque[BaseException] = deque()

    def fail_next(self, *errors: BaseException) -> None:
        """The next ``len(errors)`` sends are refused by the "broker" with these errors."""
        self._failures.extend(errors)

    async def __call__(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        partition: int | None = None,
    ) -> asyncio.Future[None]:
        self.attempts += 1
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._failures:
            acked.set_exception(self._failures.popleft())
        else:
            self.records.append((key, value))
            self.headers.append(headers)
            self.partitions.append(partition)
            acked.set_result(None)
        return acked
