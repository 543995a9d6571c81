"""One Kafka admin connection per worker, for the operations side (lag, readiness).

The probes reuse it instead of opening a client per question, and nothing here touches
logging: a broker that does not answer is reported as a reason, not silenced.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import mode
from aiokafka.admin import AIOKafkaAdminClient

REQUEST_TIMEOUT_MS = 5000


class KafkaAdmin(mode.Service):
    """A lazily connected ``AIOKafkaAdminClient``, reset after a failure, closed on stop."""

    def __init__(self, kafka: Mapping[str, Any]) -> None:
        super().__init__()
        self.kafka = kafka  # aiokafka keywords: streams.connect.kafka.kafka_options
        self.bootstrap_servers: str = kafka["bootstrap_servers"]
        self._client: AIOKafkaAdminClient | None = None
        self._connecting = asyncio.Lock()

    async def client(self) -> AIOKafkaAdminClient:
        """The connected client (connecting first if needed)."""
        async with self._connecting:  # two probes at once share one connection attempt
            if self._client is None:
                client = AIOKafkaAdminClient(
                    **self.kafka,
                    request_timeout_ms=REQUEST_TIMEOUT_MS,
                )
                try:
                    await client.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await client.close()
                    raise
                self._client = client
            return self._client

    async def unreachable(self, within: float) -> str | None:
        """None when a broker answers a metadata request within ``within`` seconds, else
        why not (the connection is dropped, to be made anew by the next question)."""
        try:
            async with asyncio.timeout(within):
                admin = await self.client()
                await admin.describe_cluster()
        except Exception as exc:  # aiokafka raises its own errors, OSError and timeouts
            await self.reset()
            detail = str(exc) or type(exc).__name__
            return f"kafka: no metadata answer from {self.bootstrap_servers} ({detail})"
        return None

    async def reset(self) -> None:
        """Drop the connection after a failure; the next question reconnects."""
        client, self._client = self._client, None
        if client is not None:
            # Closing a broken connection may fail too; there is nothing left to keep.
            with contextlib.suppress(Exception):
                await client.close()

    async def on_stop(self) -> None:
        await self.reset()
