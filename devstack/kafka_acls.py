"""A small admin to grant, revoke and list Kafka ACLs (the ACLs themselves, as data, are
``streams.connect.kafka_acls``, re-exported here).

aiokafka's admin client has no ACL calls, but its protocol module has the CreateAcls,
DeleteAcls and DescribeAcls requests (version 1, which Kafka 4.1 still serves): the
:class:`AclAdmin` here sends them over one admin connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest

from streams.connect.kafka_acls import (
    CLUSTER_RESOURCE,
    TABLE_NAMES,
    KafkaAcl,
    Operation,
    Pattern,
    Resource,
    ServiceNames,
    TopicCreation,
    acl_table,
    client_acls,
    internal_topics,
    worker_acls,
)

__all__ = [
    "CLUSTER_RESOURCE",
    "TABLE_NAMES",
    "AclAdmin",
    "AclError",
    "KafkaAcl",
    "Operation",
    "Pattern",
    "Resource",
    "ServiceNames",
    "TopicCreation",
    "acl_table",
    "client_acls",
    "internal_topics",
    "worker_acls",
]

# Wire codes: org.apache.kafka.common.resource.ResourceType, PatternType and
# org.apache.kafka.common.acl.AclOperation, AclPermissionType.
_RESOURCE_CODE = {Resource.TOPIC: 2, Resource.GROUP: 3, Resource.CLUSTER: 4}
_PATTERN_CODE = {Pattern.LITERAL: 3, Pattern.PREFIXED: 4}
_OPERATION_CODE = {
    Operation.READ: 3,
    Operation.WRITE: 4,
    Operation.CREATE: 5,
    Operation.DESCRIBE: 8,
}
_ALLOW = 3
_ANY = 1  # the "any" filter value of every enum above
_MATCH_ANY_HOST = "*"


class AclError(RuntimeError):
    """The broker refused an ACL change (the message names the rule and the reason)."""


def _check(code: int, message: str | None, what: str) -> None:
    if code != 0:
        raise AclError(f"{what}: {for_code(code).__name__}: {message or ''}".rstrip(": "))


class AclAdmin:
    """Grant, revoke and list ALLOW ACLs, as a principal allowed to (the stack's admin).

    ``connection`` holds aiokafka's client keywords (``bootstrap_servers``,
    ``security_protocol``, ``ssl_context``, ``sasl_*``).
    """

    def __init__(self, connection: Mapping[str, Any], timeout: float = 10.0) -> None:
        self._client = AIOKafkaClient(request_timeout_ms=int(timeout * 1000), **connection)
        self._timeout = timeout

    async def __aenter__(self) -> AclAdmin:
        await asyncio.wait_for(self._client.bootstrap(), self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()

    async def _send(self, request: Any) -> Any:
        # Any broker takes ACL changes and forwards them to the controller.
        node = self._client.get_random_node()
        return await asyncio.wait_for(self._client.send(node, request), self._timeout)

    async def grant(self, principal: str, acls: Iterable[KafkaAcl]) -> None:
        """Allow each of ``acls`` to ``principal`` (``User:worker``); granting twice is a
        no-op."""
        for acl in acls:
            response = await self._send(
                CreateAclsRequest(
                    _RESOURCE_CODE[acl.resource],
                    acl.name,
                    _PATTERN_CODE[acl.pattern],
                    principal,
                    _MATCH_ANY_HOST,
                    _OPERATION_CODE[acl.operation],
                    _ALLOW,
                )
            )
            for code, message in response.creation_responses:
                _check(code, message, f"grant {principal} {acl.kafka_acls_options()}")

    async def revoke(self, principal: str, acls: Iterable[KafkaAcl]) -> int:
        """Remove each of ``acls`` from ``principal``; returns how many rules went away."""
        removed = 0
        for acl in acls:
            response = await self._send(
                DeleteAclsRequest(
                    _RESOURCE_CODE[acl.resource],
                    acl.name,
                    _PATTERN_CODE[acl.pattern],
                    principal,
                    _MATCH_ANY_HOST,
                    _OPERATION_CODE[acl.operation],
                    _ALLOW,
                )
            )
            for code, message, matching in response.filter_responses:
                _check(code, message, f"revoke {principal} {acl.kafka_acls_options()}")
                removed += len(matching)
        return removed

    async def granted(self, principal: str) -> set[KafkaAcl]:
        """The ALLOW rules ``principal`` holds now (any resource, any pattern)."""
        response = await self._send(
            DescribeAclsRequest(_ANY, None, _ANY, principal, None, _ANY, _ALLOW)
        )
        _check(response.error_code, response.error_message, f"describe ACLs of {principal}")
        resources = {code: r for r, code in _RESOURCE_CODE.items()}
        patterns = {code: p for p, code in _PATTERN_CODE.items()}
        operations = {code: o for o, code in _OPERATION_CODE.items()}
        out = set()
        for resource_type, name, pattern_type, rules in response.resources:
            for _principal, _host, operation, _permission in rules:
                if operation in operations and resource_type in resources:
                    out.add(
                        KafkaAcl(
                            resource=resources[resource_type],
                            name=name,
                            pattern=patterns[pattern_type],
                            operation=operations[operation],
                        )
                    )
        return out
