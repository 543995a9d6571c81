"""The dev-tooling commands of ``python -m streams``: ``stack`` and ``demo``."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devstack import demo
from devstack.errors import StackError
from devstack.local_stack import ComponentStatus, LocalStack
from streams.cli.kafka_io import quiet_logging
from streams.settings import Settings

if TYPE_CHECKING:
    from devstack.secure_stack import SecureStack

SECURE_FOLDER = "secure"
#: The secured stack's Kafka principals (devstack.secure_stack.KAFKA_USERS), here so that
#: building the parser (every ``python -m streams`` command) imports none of its code.
PRINCIPALS = ("admin", "worker", "client", "nobody")


def add_parsers(commands: Any) -> None:
    stack = commands.add_parser(
        "stack", help="start, stop or inspect the local Kafka and Redis (and MLflow, --secure)"
    )
    stack.add_argument("action", choices=["up", "down", "status", "fetch", "env"])
    stack.add_argument(
        "--secure",
        action="store_true",
        help="the secured stack under STATE_DIR/secure: Kafka SASL_SSL + mTLS with ACLs, "
        "Redis TLS with ACL users, MLflow with basic auth",
    )
    stack.add_argument(
        "--as",
        dest="principal",
        choices=PRINCIPALS,
        default="worker",
        help="env --secure: whose environment to print (default: worker)",
    )
    stack.set_defaults(handler=run_stack)
    demo.add_parser(commands)


def secure_stack(settings: Settings) -> SecureStack:
    """The secured stack of ``settings``' STATE_DIR, sharing the plaintext stack's jars."""
    from devstack.secure_stack import SecureStack

    shared = LocalStack(settings).kafka
    return SecureStack(
        settings.state_dir / SECURE_FOLDER,
        settings,
        jars=shared.libs,
        fetch_jars=shared.fetch_jars,
    )


def run_stack(args: argparse.Namespace, settings: Settings) -> int:
    """``python -m streams stack up|down|status|fetch|env [--secure]``."""
    quiet_logging()  # the readiness probes meet refused connections while a broker starts
    if args.secure:
        return _run_secure(args, settings)
    stack = LocalStack(settings)
    if args.action == "env":
        print(
            _exports(
                {"KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap, "REDIS_URL": stack.redis.url}
            )
        )
        return 0
    actions: dict[str, Callable[[], list[ComponentStatus]]] = {
        "up": stack.up,
        "down": stack.down,
        "status": stack.status,
        "fetch": stack.fetch,
    }
    return _report(args.action, actions[args.action]())


def _run_secure(args: argparse.Namespace, settings: Settings) -> int:
    stack = secure_stack(settings)
    if args.action == "fetch":
        LocalStack(settings).kafka.fetch_jars()
        return 0
    if args.action == "env":
        if not stack.exists():
            raise StackError(
                f"no secured stack under {stack.home}: start one with "
                "python -m streams stack up --secure"
            )
        # The one place passwords are printed: asked for, to a terminal or an eval.
        print(stack.endpoints().export_lines(args.principal))
        return 0
    actions: dict[str, Callable[[], list[ComponentStatus]]] = {
        "up": stack.up,
        "down": stack.down,
        "status": stack.status,
    }
    code = _report(args.action, actions[args.action]())
    if args.action == "up":
        endpoints = stack.endpoints()
        print(
            f"kafka  listeners: SASL_SSL {endpoints.kafka_bootstrap} "
            f"(SCRAM-SHA-512, SCRAM-SHA-256, PLAIN); SSL with client certificate "
            f"{endpoints.kafka_mtls_bootstrap}"
        )
        print(f"certificates: {endpoints.ca_file.parent} (trust {endpoints.ca_file.name})")
        print(
            "environment of a worker (passwords included): "
            'eval "$(python -m streams stack env --secure)"'
        )
    return code


def _report(action: str, statuses: list[ComponentStatus]) -> int:
    for status in statuses:
        print(status.line())
    if action == "status":
        return 0 if all(s.ready for s in statuses) else 1
    return 0


def _exports(env: dict[str, str]) -> str:
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items())
