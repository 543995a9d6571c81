"""The Kafka ACLs of each principal, as data.

One source for the README's ACL table, the worker's start-up access check
(``streams.connect.kafka_access``), ``stack up --secure`` and the tests: the
list :func:`worker_acls` returns is everything a worker needs and nothing more. What each
entry is for, and which code needs it:

Kafka's Read and Write each imply Describe (the metadata, offset and group lookups), so
no rule below is a Describe:

- **Inputs** (``LIVESCORES_TOPIC``, ``MATCH_REQUESTS_TOPIC``): Read; the agents consume
  them in the consumer group.
- **The consumer group** (``CONSUMER_GROUP``, which is also the Faust app id): Read, to
  join, sync, heartbeat and commit, and (through the implied Describe) for the lag
  monitor's offset fetch (``streams/ops/consumer_lag.py``).
- **Outputs** (``PREDICTIONS_TOPIC``, ``PREDICTIONS_DLQ_TOPIC``,
  ``PREDICTIONS_SHADOW_TOPIC``): Write; and Read on ``PREDICTIONS_TOPIC`` and
  ``PREDICTIONS_SHADOW_TOPIC``, which the read models' agent consumes in the group
  (``streams/read_models/agent.py``).
- **Internal topics**, all named after the group: ``{group}-results`` and
  ``{group}-scores`` (produced with each batch, read back in full by a plain consumer
  outside the group, ``streams/faust_glue/topic_replica.py``; the results also by the read
  models in the group) and the table changelogs ``{group}-{table}-changelog`` of
  ``streams/table_names.py`` (written as each table changes, read to recover it): Read and
  Write. Faust's ``{group}-__assignor-__leader`` (subscribed to, never
  written): Read.
- **Topic creation** (:data:`TopicCreation`): the worker creates its internal topics at
  start-up when they are missing (``streams/faust_glue/topic_admin.py``, and Faust
  declares the changelog and leader topics). ``prefixed`` (the default, what the secure
  stack grants) allows Create on topics starting ``{group}-`` only, so the inputs and
  outputs must exist before the worker starts; ``literal`` allows Create on exactly the
  internal topics; ``cluster`` allows Create on the cluster (any topic, as the
  plaintext stack behaves). There is no "no Create" variant: even when an operator made
  every topic first, Faust 0.15 sends CreateTopics for its leader topic and changelog
  unless its producer's metadata already lists them, and the broker checks Create before
  it looks whether the topic exists, so the worker would stop at start-up with
  ``TopicAuthorizationFailedError('Cannot create topic: {group}-__assignor-__leader')``.

Nothing else: no cluster Describe, no IdempotentWrite (the producers are not idempotent),
no transactional ids, no DescribeConfigs. Each rule was checked against a real worker by
taking it away (tests/integration/test_secure_stack.py shows the whole set suffices).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from streams.table_names import TABLE_NAMES

CLUSTER_RESOURCE = "kafka-cluster"


class Resource(StrEnum):
    """ACL resource types, named as ``kafka-acls`` prints them."""

    TOPIC = "Topic"
    GROUP = "Group"
    CLUSTER = "Cluster"


class Pattern(StrEnum):
    LITERAL = "LITERAL"
    PREFIXED = "PREFIXED"


class Operation(StrEnum):
    READ = "Read"
    WRITE = "Write"
    CREATE = "Create"
    DESCRIBE = "Describe"


TopicCreation = Literal["prefixed", "literal", "cluster"]


class KafkaAcl(BaseModel):
    """One ALLOW rule: ``operation`` on the resource(s) ``pattern``-matching ``name``."""

    model_config = ConfigDict(frozen=True)

    resource: Resource
    name: str = Field(min_length=1)
    pattern: Pattern = Pattern.LITERAL
    operation: Operation
    why: str = Field("", description="What needs it, for the README table.", exclude=True)

    @property
    def key(self) -> tuple[Resource, str, Pattern, Operation]:
        return (self.resource, self.name, self.pattern, self.operation)

    # The rule is what it allows; ``why`` is commentary (a rule read back from the broker
    # has none), so it takes no part in equality.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, KafkaAcl) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def kafka_acls_options(self) -> str:
        """The rule as ``kafka-acls.sh`` options (after ``--allow-principal``)."""
        target = {
            Resource.TOPIC: f"--topic {self.name}",
            Resource.GROUP: f"--group {self.name}",
            Resource.CLUSTER: "--cluster",
        }[self.resource]
        pattern = " --resource-pattern-type prefixed" if self.pattern is Pattern.PREFIXED else ""
        return f"--operation {self.operation.value} {target}{pattern}"

    def row(self) -> str:
        """A Markdown table row: resource, name, pattern, operation, why."""
        return (
            f"| {self.resource.value} | `{self.name}` | {self.pattern.value.lower()} "
            f"| {self.operation.value} | {self.why} |"
        )


class ServiceNames(Protocol):
    """The Settings fields the ACLs follow (``streams.settings.Settings`` has them all)."""

    consumer_group: str
    livescores_topic: str
    match_requests_topic: str
    predictions_topic: str
    predictions_dlq_topic: str
    predictions_shadow_topic: str


def _each(
    resource: Resource,
    names: Iterable[str],
    operations: Sequence[Operation],
    why: str,
    pattern: Pattern = Pattern.LITERAL,
) -> list[KafkaAcl]:
    return [
        KafkaAcl(resource=resource, name=name, pattern=pattern, operation=op, why=why)
        for name in names
        for op in operations
    ]


def internal_topics(group: str) -> dict[str, str]:
    """The topics the worker owns, by role, all named after the consumer group."""
    topics = {
        "results": f"{group}-results",
        "scores": f"{group}-scores",
        "leader": f"{group}-__assignor-__leader",
    }
    for table in TABLE_NAMES:
        topics[f"changelog:{table}"] = f"{group}-{table}-changelog"
    return topics


def worker_acls(names: ServiceNames, topic_creation: TopicCreation = "prefixed") -> list[KafkaAcl]:
    """Every ACL a worker configured with ``names`` needs, and only those."""
    read, write = Operation.READ, Operation.WRITE
    group = names.consumer_group
    internal = internal_topics(group)
    acls = [
        *_each(
            Resource.TOPIC,
            [names.livescores_topic, names.match_requests_topic],
            [read],
            "input: consumed by the agents in the group",
        ),
        *_each(
            Resource.GROUP,
            [group],
            [read],
            "the consumer group: join, commit, and the lag monitor's offset fetch",
        ),
        *_each(
            Resource.TOPIC,
            [names.predictions_topic, names.predictions_shadow_topic],
            [read, write],
            "output: produced with each batch, read back in the group by the read models",
        ),
        *_each(
            Resource.TOPIC,
            [names.predictions_dlq_topic],
            [write],
            "output: produced with each batch",
        ),
        *_each(
            Resource.TOPIC,
            [internal["results"], internal["scores"]],
            [read, write],
            "internal: produced with each batch, read in full by every worker (the results "
            "also by the read models in the group)",
        ),
        *_each(
            Resource.TOPIC,
            [v for k, v in internal.items() if k.startswith("changelog:")],
            [read, write],
            "internal: a table changelog, written as the table changes, read on recovery",
        ),
        *_each(
            Resource.TOPIC,
            [internal["leader"]],
            [read],
            "internal: Faust's leader election topic (subscribed to, never written)",
        ),
    ]
    if topic_creation == "prefixed":
        acls += _each(
            Resource.TOPIC,
            [f"{group}-"],
            [Operation.CREATE],
            "creates its internal topics when missing (inputs and outputs must exist)",
            pattern=Pattern.PREFIXED,
        )
    elif topic_creation == "literal":
        acls += _each(
            Resource.TOPIC,
            internal.values(),
            [Operation.CREATE],
            "creates this internal topic when missing",
        )
    elif topic_creation == "cluster":
        acls += _each(
            Resource.CLUSTER,
            [CLUSTER_RESOURCE],
            [Operation.CREATE],
            "creates any of its topics when missing",
        )
    else:
        raise ValueError(f"topic_creation must be prefixed, literal or cluster: {topic_creation!r}")
    return acls


def client_acls(names: ServiceNames) -> list[KafkaAcl]:
    """What a producer of inputs and reader of outputs needs (``replay``, ``request``, the
    tests): no group, no internal topics, no creation."""
    return [
        *_each(
            Resource.TOPIC,
            [names.livescores_topic, names.match_requests_topic],
            [Operation.WRITE],
            "input: produced to",
        ),
        *_each(
            Resource.TOPIC,
            [names.predictions_topic, names.predictions_dlq_topic, names.predictions_shadow_topic],
            [Operation.READ],
            "output: read with a plain consumer (no group)",
        ),
    ]


def acl_table(acls: Iterable[KafkaAcl]) -> str:
    """A Markdown table of ``acls`` (for the README)."""
    head = "| resource | name | pattern | operation | why |\n| --- | --- | --- | --- | --- |"
    return "\n".join([head, *(acl.row() for acl in acls)])
