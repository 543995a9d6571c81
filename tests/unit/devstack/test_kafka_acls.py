"""The worker's and the client's Kafka ACLs, from the settings, as data."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.kafka_acls import (
    KafkaAcl,
    Operation,
    Pattern,
    Resource,
    acl_table,
    client_acls,
    internal_topics,
    worker_acls,
)
from devstack.topics import run_names
from streams.settings import Settings

READ, WRITE, CREATE = Operation.READ, Operation.WRITE, Operation.CREATE


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(**run_names("run1"), state_dir=tmp_path)


def _rules(acls: list[KafkaAcl]) -> set[tuple[str, str, str, str]]:
    return {(a.resource.value, a.name, a.pattern.value, a.operation.value) for a in acls}


def test_worker_acls_follow_every_configured_name(settings: Settings) -> None:
    assert _rules(worker_acls(settings)) == {
        ("Topic", "run1-livescores", "LITERAL", "Read"),
        ("Topic", "run1-match-requests", "LITERAL", "Read"),
        ("Group", "run1", "LITERAL", "Read"),
        # The read models consume the predictions and shadow predictions in the group.
        ("Topic", "run1-predictions", "LITERAL", "Read"),
        ("Topic", "run1-predictions", "LITERAL", "Write"),
        ("Topic", "run1-predictions-dlq", "LITERAL", "Write"),
        ("Topic", "run1-predictions-shadow", "LITERAL", "Read"),
        ("Topic", "run1-predictions-shadow", "LITERAL", "Write"),
        ("Topic", "run1-results", "LITERAL", "Read"),
        ("Topic", "run1-results", "LITERAL", "Write"),
        ("Topic", "run1-scores", "LITERAL", "Read"),
        ("Topic", "run1-scores", "LITERAL", "Write"),
        ("Topic", "run1-match_to_state-changelog", "LITERAL", "Read"),
        ("Topic", "run1-match_to_state-changelog", "LITERAL", "Write"),
        ("Topic", "run1-match_to_outputs-changelog", "LITERAL", "Read"),
        ("Topic", "run1-match_to_outputs-changelog", "LITERAL", "Write"),
        ("Topic", "run1-match_to_result-changelog", "LITERAL", "Read"),
        ("Topic", "run1-match_to_result-changelog", "LITERAL", "Write"),
        ("Topic", "run1-__assignor-__leader", "LITERAL", "Read"),
        ("Topic", "run1-", "PREFIXED", "Create"),
    }


def test_default_settings_give_the_contract_names() -> None:
    names = {a.name for a in worker_acls(Settings())}
    assert {"livescores", "match-requests", "predictions", "predictions-dlq"} <= names
    assert {"predictions-shadow", "soccerpredict", "soccerpredict-results"} <= names


def test_topic_creation_variants(settings: Settings) -> None:
    prefixed = _rules(worker_acls(settings, "prefixed"))
    base = {rule for rule in prefixed if rule[3] != "Create"}
    assert prefixed - base == {("Topic", "run1-", "PREFIXED", "Create")}
    assert _rules(worker_acls(settings, "literal")) - base == {
        ("Topic", name, "LITERAL", "Create")
        for name in (
            "run1-results",
            "run1-scores",
            "run1-__assignor-__leader",
            "run1-match_to_state-changelog",
            "run1-match_to_outputs-changelog",
            "run1-match_to_result-changelog",
        )
    }
    assert _rules(worker_acls(settings, "cluster")) - base == {
        ("Cluster", "kafka-cluster", "LITERAL", "Create")
    }
    with pytest.raises(ValueError, match="topic_creation"):
        worker_acls(settings, "none")  # type: ignore[arg-type]


def test_internal_topics_are_the_ones_the_worker_uses(settings: Settings) -> None:
    """The names are those of the real app: its settings, its Faust table and leader topic."""
    from streams.app import create_app

    app = create_app(settings).app
    changelogs = {t.changelog_topic.get_topic_name() for t in app.tables.values()}
    internal = internal_topics(settings.consumer_group)
    assert internal["results"] == settings.results_topic
    assert internal["scores"] == settings.scores_topic
    assert {v for k, v in internal.items() if k.startswith("changelog:")} == changelogs
    assert internal["leader"] == app._leader_assignor._leader_topic_name
    # Every internal topic falls under the prefix the worker may create topics with.
    assert all(name.startswith(f"{settings.consumer_group}-") for name in internal.values())


def test_every_topic_the_worker_creates_is_covered(settings: Settings) -> None:
    from streams.faust_glue.topic_admin import service_topics

    acls = worker_acls(settings)
    created = {t.name for t in service_topics(settings)}
    internal = set(internal_topics(settings.consumer_group).values())
    assert created & internal == {settings.results_topic, settings.scores_topic}
    assert created <= {a.name for a in acls if a.operation in (READ, WRITE)}


def test_client_acls_write_inputs_and_read_outputs_only(settings: Settings) -> None:
    assert _rules(client_acls(settings)) == {
        ("Topic", "run1-livescores", "LITERAL", "Write"),
        ("Topic", "run1-match-requests", "LITERAL", "Write"),
        ("Topic", "run1-predictions", "LITERAL", "Read"),
        ("Topic", "run1-predictions-dlq", "LITERAL", "Read"),
        ("Topic", "run1-predictions-shadow", "LITERAL", "Read"),
    }


def test_equality_ignores_the_explanation() -> None:
    documented = KafkaAcl(resource=Resource.TOPIC, name="t", operation=READ, why="because")
    read_back = KafkaAcl(resource=Resource.TOPIC, name="t", operation=READ)
    assert documented == read_back and {documented} == {read_back}
    assert documented != KafkaAcl(
        resource=Resource.TOPIC, name="t", pattern=Pattern.PREFIXED, operation=READ
    )


def test_kafka_acls_options_and_table(settings: Settings) -> None:
    acls = worker_acls(settings)
    options = [a.kafka_acls_options() for a in acls]
    assert "--operation Read --group run1" in options
    assert "--operation Create --topic run1- --resource-pattern-type prefixed" in options
    table = acl_table(acls).splitlines()
    assert table[0] == "| resource | name | pattern | operation | why |"
    assert len(table) == 2 + len(acls)
    assert all(line.count("|") == 6 for line in table)
    assert all(a.why for a in acls), "every rule says what needs it"


def test_a_rule_needs_a_name() -> None:
    with pytest.raises(ValueError):
        KafkaAcl(resource=Resource.TOPIC, name="", operation=CREATE)
