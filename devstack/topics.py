"""Topic clean-up for tests and benchmarks that make topics per run."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient


async def delete_topics_named(bootstrap: str, part: str) -> int:
    """Delete every topic whose name contains ``part`` (inputs, outputs, changelogs).

    Thousands of leftover partitions slow a single local broker down, and with it every
    later run.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if part in t]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()
