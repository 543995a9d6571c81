"""Create the service's topics with the configured partition count before the worker starts.

Inputs, outputs and the table changelog must share one partition count so that a match's
events, its state and its outputs live on the same partition number.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from tenacity import RetryCallState

from streams.backoff import retrying
from streams.settings import Settings

log = structlog.get_logger(__name__)
RETRY_INITIAL_SECONDS = 1.0
#: The longest wait for new topics' partitions to get leaders.
LEADER_WAIT_SECONDS = 10.0
RETRY_MAXIMUM_SECONDS = 5.0


class TopicSpec(NamedTuple):
    """A topic the service needs: its partitions and configs."""

    name: str
    partitions: int
    configs: dict[str, str]


def service_topics(settings: Settings) -> list[TopicSpec]:
    """Inputs and outputs share ``TOPIC_PARTITIONS``; the results and scores topics have one
    partition and keep the newest record per key (every worker reads them in full)."""
    shared = [
        settings.livescores_topic,
        settings.match_requests_topic,
        settings.predictions_topic,
        settings.predictions_dlq_topic,
        settings.predictions_shadow_topic,
    ]
    topics = [TopicSpec(name, settings.topic_partitions, {}) for name in shared]
    compacted = {"cleanup.policy": "compact"}
    topics.append(TopicSpec(settings.results_topic, 1, compacted))
    topics.append(TopicSpec(settings.scores_topic, 1, compacted))
    return topics


def _unreachable(error: BaseException) -> bool:
    return isinstance(error, TimeoutError | KafkaConnectionError | OSError)


async def ensure_topics(settings: Settings, give_up_after: float | None = None) -> list[str]:
    """Create missing topics; waits (saying so) while the broker is unreachable.

    Returns the names it created. Existing topics are left as they are, with a warning when
    their partition count differs from TOPIC_PARTITIONS. With ``give_up_after`` the last
    connection error is raised once that many seconds have passed.
    """

    # A caller with a deadline reports the final failure itself; one that waits for good
    # (the worker) says why it waits.
    report = log.debug if give_up_after is not None else log.warning

    def on_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        report(
            "kafka_unreachable",
            bootstrap=settings.kafka_bootstrap_servers,
            retry_in=round(state.next_action.sleep, 1) if state.next_action else None,
            error=str(error) or type(error).__name__,
        )

    async for attempt in retrying(
        retry_on=_unreachable,
        initial=RETRY_INITIAL_SECONDS,
        maximum=RETRY_MAXIMUM_SECONDS,
        on_retry=on_retry,
        give_up_after=give_up_after,
    ):
        with attempt:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=5000
            )
            try:
                await admin.start()
                return await _create_missing(admin, settings)
            finally:
                await admin.close()
    raise AssertionError("unreachable: retrying either returns or raises")


async def _create_missing(admin: AIOKafkaAdminClient, settings: Settings) -> list[str]:
    wanted = {spec.name: spec for spec in service_topics(settings)}
    # Describe only topics that exist: a metadata request for a missing topic may
    # auto-create it with the broker's default partition count.
    listed = set(await admin.list_topics())
    present = [name for name in wanted if name in listed]
    existing = await admin.describe_topics(present) if present else []
    counts = {t["topic"]: len(t["partitions"]) for t in existing if t.get("error_code", 0) == 0}
    for name, count in counts.items():
        if count != wanted[name].partitions:
            log.warning(
                "topic_partition_mismatch",
                topic=name,
                partitions=count,
                expected=wanted[name].partitions,
            )
    missing = [name for name in wanted if name not in counts]
    if not missing:
        return []
    try:
        await admin.create_topics(
            [
                NewTopic(name, wanted[name].partitions, 1, topic_configs=wanted[name].configs)
                for name in missing
            ]
        )
    except TopicAlreadyExistsError:
        pass  # another worker created them first
    except KafkaError as exc:
        if "TopicAlreadyExists" not in repr(exc):
            raise
    await _wait_for_leaders(admin, missing)
    log.info("topics_created", topics=missing)
    return missing


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """Return once every partition of ``names`` has a leader (at most a few seconds).

    A topic is usable a moment after it is created: a produce before its partitions have
    leaders fails with NotLeaderForPartition and is retried, which producers log.
    """
    deadline = asyncio.get_running_loop().time() + LEADER_WAIT_SECONDS
    while True:
        described = await admin.describe_topics(names)
        leaderless = [
            t["topic"]
            for t in described
            if t.get("error_code", 0) != 0
            or not t["partitions"]
            or any(p.get("leader", -1) < 0 for p in t["partitions"])
        ]
        if not leaderless or asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.05)
