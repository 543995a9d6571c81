"""``python -m streams topics`` against the real broker: the plan, creation, idempotence,
and a topic with too few partitions."""

from __future__ import annotations

import argparse
import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.cli import CommandError
from streams.cli.topics import run, wanted_topics
from streams.faust_glue.topic_admin import COMPACTED
from streams.settings import Settings
from tests.harness import run_command

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def topics_of(settings: Settings) -> dict[str, tuple[int, str]]:
    """Partitions and cleanup.policy of the broker's topics named after the test's group."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if settings.consumer_group in t]
        if not names:
            return {}
        described = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
        policies = {}
        for response in responses:
            for _, _, _, name, entries in response.resources:
                policies[name] = next(e[1] for e in entries if e[0] == "cleanup.policy")
        return {name: (described[name], policies[name]) for name in names}
    finally:
        await admin.close()


def command(settings: Settings, *, dry_run: bool = False) -> int:
    return run(argparse.Namespace(dry_run=dry_run), settings)


def test_dry_run_then_create_then_nothing_to_do(
    isolated_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    group = isolated_settings.consumer_group
    assert command(isolated_settings, dry_run=True) == 0
    planned = capsys.readouterr().out.splitlines()
    assert len(planned) == len(wanted_topics(isolated_settings)) == 11
    assert all(line.startswith("would create ") for line in planned)
    assert asyncio.run(topics_of(isolated_settings)) == {}  # a dry run creates nothing

    assert command(isolated_settings) == 0
    assert all(line.startswith("created ") for line in capsys.readouterr().out.splitlines())
    p = isolated_settings.topic_partitions
    assert asyncio.run(topics_of(isolated_settings)) == {
        f"{group}-livescores": (p, "delete"),
        f"{group}-match-requests": (p, "delete"),
        f"{group}-predictions": (p, "delete"),
        f"{group}-predictions-dlq": (p, "delete"),
        f"{group}-predictions-shadow": (p, "delete"),
        f"{group}-results": (p, "compact"),
        f"{group}-scores": (1, "compact"),
        f"{group}-match_to_state-changelog": (p, "compact"),
        f"{group}-match_to_outputs-changelog": (p, "compact"),
        f"{group}-match_to_result-changelog": (p, "compact"),
        f"{group}-dlq-replayed": (1, "compact"),
    }

    assert command(isolated_settings) == 0  # idempotent
    again = capsys.readouterr().out.splitlines()
    assert len(again) == 11 and all(line.startswith("exists ") for line in again)


def test_too_few_partitions_is_one_line_and_a_failure(isolated_settings: Settings) -> None:
    name = isolated_settings.predictions_topic

    async def make_small() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=isolated_settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, 1, 1)])
        finally:
            await admin.close()

    asyncio.run(make_small())
    with pytest.raises(CommandError, match=f"too few partitions: {name} has 1, wants 4"):
        command(isolated_settings)
    # The rest was created all the same: a rerun after the fix has only that one to do.
    assert len(asyncio.run(topics_of(isolated_settings))) == 11

    # As the chart's job runs it: one error line, a non-zero exit status.
    result = run_command(isolated_settings, "topics", timeout=30)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: too few")


def test_a_results_topic_of_one_partition_is_widened(isolated_settings: Settings) -> None:
    """A results topic made before 2.0.0 gets the inputs' partitions (the read models read
    it beside the outputs); what it held stays in partition 0."""
    name = isolated_settings.results_topic

    async def make_old() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=isolated_settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, 1, 1, topic_configs=COMPACTED)])
        finally:
            await admin.close()

    asyncio.run(make_old())
    assert command(isolated_settings) == 0
    assert asyncio.run(topics_of(isolated_settings))[name] == (
        isolated_settings.topic_partitions,
        "compact",
    )


def test_replication_the_broker_cannot_give_is_refused(isolated_settings: Settings) -> None:
    # The local broker is one node: three replicas are refused per topic, and said so.
    settings = Settings(**{**isolated_settings.model_dump(), "topic_replication_factor": 3})
    with pytest.raises(CommandError, match="not created: "):
        command(settings)
    assert asyncio.run(topics_of(settings)) == {}
