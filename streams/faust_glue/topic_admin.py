"""Create the service's topics with the configured partition count before the worker starts.

Inputs, outputs and the table changelog must share one partition count so that a match's
events, its state and its outputs live on the same partition number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    TopicAlreadyExistsError,
    for_code,
)
from aiokafka.protocol.offset import OffsetRequest
from tenacity import RetryCallState

from streams.backoff import poll_until_async, retrying
from streams.connect.kafka import kafka_options
from streams.settings import Settings
from streams.table_names import TABLE_NAMES

log = structlog.get_logger(__name__)
RETRY_INITIAL_SECONDS = 1.0
#: The longest wait for new topics' partitions to get leaders.
LEADER_WAIT_SECONDS = 10.0
LEADER_POLL_SECONDS = 0.05
RETRY_MAXIMUM_SECONDS = 5.0


class TopicSpec(NamedTuple):
    """A topic the service needs: its partitions and configs."""

    name: str
    partitions: int
    configs: dict[str, str]


#: Inputs and outputs keep records for the retention time; the internal topics that are
#: read in full keep the newest record per key. Set explicitly, not left to the broker's
#: default, which a cluster may have changed.
DELETED: dict[str, str] = {"cleanup.policy": "delete"}
COMPACTED: dict[str, str] = {"cleanup.policy": "compact"}


def service_topics(settings: Settings) -> list[TopicSpec]:
    """Inputs, outputs and the results share ``TOPIC_PARTITIONS`` (the read models read the
    outputs and the results partition by partition, beside the inputs); the results and
    scores topics keep the newest record per key (every worker reads them in full), and
    the scores topic has one partition."""
    shared = [
        settings.livescores_topic,
        settings.match_requests_topic,
        settings.predictions_topic,
        settings.predictions_dlq_topic,
        settings.predictions_shadow_topic,
    ]
    topics = [TopicSpec(name, settings.topic_partitions, DELETED) for name in shared]
    topics.append(TopicSpec(settings.results_topic, settings.topic_partitions, COMPACTED))
    topics.append(TopicSpec(settings.scores_topic, 1, COMPACTED))
    return topics


def changelog_configs(settings: Settings) -> dict[str, str]:
    """A changelog's topic configuration: compacted, and compacted soon. The broker's
    defaults (1 GiB segments, tombstones kept a day) would keep every match a flood ever
    named in the open segment, and a restart would read them all back."""
    window = str(int(settings.changelog_compact_seconds * 1000))
    return COMPACTED | {
        "segment.ms": window,
        "delete.retention.ms": window,
        "min.cleanable.dirty.ratio": "0.1",
    }


def changelog_topics(settings: Settings) -> list[TopicSpec]:
    """The tables' changelogs as Faust declares them: ``{app id}-{table}-changelog``,
    compacted, with the inputs' partition count (partition i holds the state of the
    matches of input partition i). The worker leaves them to Faust; ``streams topics``
    makes them ahead, so they get TOPIC_REPLICATION_FACTOR replicas too."""
    return [
        TopicSpec(
            f"{settings.consumer_group}-{table}-changelog",
            settings.topic_partitions,
            changelog_configs(settings),
        )
        for table in TABLE_NAMES
    ]


@dataclass
class TopicCheck:
    """What :func:`create_missing` found and did."""

    #: Every wanted topic that exists, with its partition count (before any creation).
    existing: dict[str, int] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    #: Wanted topics that could not be created, with the broker's reason.
    failed: dict[str, str] = field(default_factory=dict)

    def mismatched(self, specs: list[TopicSpec]) -> list[tuple[TopicSpec, int]]:
        """Existing topics whose partition count is not the wanted one, with that count."""
        return [
            (spec, self.existing[spec.name])
            for spec in specs
            if spec.name in self.existing and self.existing[spec.name] != spec.partitions
        ]


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
            admin = AIOKafkaAdminClient(**kafka_options(settings), request_timeout_ms=5000)
            try:
                await admin.start()
                return await _create_missing(admin, settings)
            finally:
                await admin.close()
    raise AssertionError("unreachable: retrying either returns or raises")


async def _create_missing(admin: AIOKafkaAdminClient, settings: Settings) -> list[str]:
    wanted = service_topics(settings)
    check = await create_missing(admin, wanted, settings.topic_replication_factor)
    for spec, count in check.mismatched(wanted):
        if spec.name == settings.results_topic and count < spec.partitions:
            await widen_results(admin, spec, count)
            continue
        log.warning(
            "topic_partition_mismatch", topic=spec.name, partitions=count, expected=spec.partitions
        )
    for name, reason in check.failed.items():
        # Faust's own declaration of the topic reports it again, and stops the worker.
        log.warning("topic_not_created", topic=name, reason=reason)
    if check.created:
        log.info("topics_created", topics=check.created)
    return check.created


class TopicUpgradeError(RuntimeError):
    """A topic the worker must change before it can run could not be changed; one line."""


async def widen_results(admin: AIOKafkaAdminClient, spec: TopicSpec, count: int) -> None:
    """Give a results topic made before 2.0.0 (one partition) the inputs' partitions.

    The read models now read it partition by partition beside the outputs; new results go
    to their match's partition. The records already there stay in partition 0, where the
    team features (every worker reads every partition) still find them. A principal that
    may not alter the topic (a worker on exactly its ACLs) gets one line saying who can.
    """
    try:
        await admin.create_partitions({spec.name: NewPartitions(spec.partitions)})
    except KafkaError as exc:
        raise TopicUpgradeError(
            f"{spec.name} has {count} partition(s) and the read models need "
            f"{spec.partitions}; adding them failed ({type(exc).__name__}): run "
            "`python -m streams topics` as an admin principal once, then start the worker"
        ) from None
    await _wait_for_leaders(admin, [spec.name], {spec.name: spec.partitions})
    log.info("topic_partitions_added", topic=spec.name, partitions=spec.partitions, was=count)


async def existing_partitions(
    admin: AIOKafkaAdminClient, names: list[str], *, listed: bool = True
) -> dict[str, int]:
    """The partition count of each of ``names`` that exists (``listed=False``: ``names``
    are known to exist)."""
    # Describe only topics that exist: a metadata request for a missing topic may
    # auto-create it with the broker's default partition count.
    present = names
    if listed:
        found = set(await admin.list_topics())
        present = [name for name in names if name in found]
    described = await admin.describe_topics(present) if present else []
    return {t["topic"]: len(t["partitions"]) for t in described if t.get("error_code", 0) == 0}


async def create_missing(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], replicas: int, *, dry_run: bool = False
) -> TopicCheck:
    """Create those of ``specs`` that do not exist, with ``replicas`` replicas; existing
    topics are left as they are (their partitions are reported in the check).

    With ``dry_run`` nothing is created: the check's ``created`` lists what would be.
    """
    check = TopicCheck(existing=await existing_partitions(admin, [s.name for s in specs]))
    missing = [spec for spec in specs if spec.name not in check.existing]
    if dry_run or not missing:
        check.created = [spec.name for spec in missing]
        return check
    try:
        response = await admin.create_topics(
            [NewTopic(s.name, s.partitions, replicas, topic_configs=s.configs) for s in missing]
        )
        errors = response.topic_errors
    except TopicAlreadyExistsError:
        errors = []  # another worker created them first
    except KafkaError as exc:
        if "TopicAlreadyExists" not in repr(exc):
            raise
        errors = []
    # The broker answers per topic, and aiokafka returns those errors instead of raising.
    refused, raced = {}, []
    for name, code, *message in errors:
        if code == TopicAlreadyExistsError.errno:
            raced.append(name)  # made meanwhile, or listed late by the broker's metadata
        elif code:
            refused[name] = f"{for_code(code).__name__} {' '.join(map(str, message))}".strip()
    if raced:
        # Someone else's topic, maybe still without leaders: its partitions are whatever
        # they chose, so look once it is described in full.
        await _wait_for_leaders(admin, raced)
        check.existing |= await existing_partitions(admin, raced, listed=False)
    check.failed = refused
    check.created = [s.name for s in missing if s.name not in refused and s.name not in raced]
    if check.created:
        counts = {s.name: s.partitions for s in missing}
        await _wait_for_leaders(admin, check.created, counts)
    return check


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], partitions: dict[str, int] | None = None
) -> None:
    """Return once every partition of ``names`` has a leader that serves it (at most a few
    seconds), and each topic named in ``partitions`` is described with at least that many.

    Partitions just added are missing from the metadata for a moment: without the count,
    the partitions already there, all led, made a widened topic look ready at once.

    A topic is usable a moment after it is created: a produce before its partitions have
    leaders fails with NotLeaderForPartition and is retried, which producers log. The
    metadata names a leader slightly before that broker serves the partition, so each
    leader is also asked for the partition's end offset (ListOffsets, answered only by a
    serving leader).
    """

    async def served() -> bool:
        described = await admin.describe_topics(names)
        return not unready(described, partitions or {}) and await _leaders_serve(admin, described)

    # Past the wait the topics are used anyway: their first produces are retried.
    await poll_until_async(served, LEADER_WAIT_SECONDS, LEADER_POLL_SECONDS)


def unready(described: list[dict[str, Any]], partitions: dict[str, int]) -> list[str]:
    """The topics of a DescribeTopics answer not usable yet: an error, no partitions, fewer
    partitions than ``partitions`` asks for, or a partition without a leader."""
    return [
        t["topic"]
        for t in described
        if t.get("error_code", 0) != 0
        or not t["partitions"]
        or len(t["partitions"]) < partitions.get(t["topic"], 0)
        or any(p.get("leader", -1) < 0 for p in t["partitions"])
    ]


async def _leaders_serve(admin: AIOKafkaAdminClient, described: list[dict[str, Any]]) -> bool:
    by_leader: dict[int, dict[str, list[tuple[int, int]]]] = {}
    for topic in described:
        for p in topic["partitions"]:
            asked = by_leader.setdefault(p["leader"], {}).setdefault(topic["topic"], [])
            asked.append((p["partition"], -1))  # -1: the latest offset
    for leader, topics in by_leader.items():
        # aiokafka's admin has no ListOffsets call; its client (pinned aiokafka <0.15)
        # sends the protocol request to the leader as the consumer's fetcher does.
        response = await admin._client.send(leader, OffsetRequest(-1, 0, list(topics.items())))
        for _topic, partitions in response.topics:
            if any(partition[1] != 0 for partition in partitions):
                return False
    return True
