"""``python -m streams request``: ask for a prediction and print the answer.

    python -m streams request --match-id 2024-06-14_germany_scotland
    python -m streams request --match-id my-match --home Germany --away Scotland \\
        --tournament "UEFA Euro" --neutral --json

Sends one ``match-requests`` record and waits (``--timeout``, default 30 s) for the
``predictions`` record with the same ``request_id``, or for its dead letter. Exit status:
0 answered, 1 dead-lettered or no answer in time, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from typing import Any

from pydantic import ValidationError

from schemas import MatchRequest
from streams.cli import CommandError
from streams.cli.args import iso_date, positive_float
from streams.cli.kafka_io import ensure_service_topics, new_records, producer, quiet_logging
from streams.cli.show import prediction_line
from streams.settings import Settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("request", help="request a prediction and print the answer")
    parser.add_argument("--match-id", required=True, help="the match to predict")
    parser.add_argument("--home", help="home team (needed when the match is not in the tables)")
    parser.add_argument("--away", help="away team (with --home)")
    parser.add_argument("--date", type=iso_date, help="match date (default: today)")
    parser.add_argument("--neutral", action="store_true", help="played on neutral ground")
    parser.add_argument("--tournament", help="tournament name (default: Friendly)")
    parser.add_argument("--request-id", help="idempotency key (default: a new uuid)")
    parser.add_argument(
        "--timeout", type=positive_float, default=30.0, help="seconds to wait (default 30)"
    )
    parser.add_argument("--json", action="store_true", help="print the predictions record")
    parser.set_defaults(handler=run)


def build_request(args: argparse.Namespace) -> MatchRequest:
    """The record to send, validated as the worker will validate it."""
    body = {
        "request_id": args.request_id or uuid.uuid4().hex,
        "match_id": args.match_id,
        "home_team": args.home,
        "away_team": args.away,
        "date": args.date.isoformat() if args.date else None,
        "neutral": args.neutral,
        "tournament": args.tournament,
    }
    try:
        return MatchRequest.model_validate_json(json.dumps(body))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        raise CommandError(f"bad request: {where + ': ' if where else ''}{reason}", 2) from None


def _is_answer(topic: str, record: dict[str, Any], settings: Settings, request_id: str) -> bool:
    if topic == settings.predictions_topic:
        return record.get("trigger") == "request" and record.get("request_id") == request_id
    try:  # a dead letter carries the original request as its payload
        return json.loads(record.get("payload") or "{}").get("request_id") == request_id
    except (TypeError, ValueError, AttributeError):
        return False


async def ask(settings: Settings, request: MatchRequest, timeout: float) -> tuple[str, dict]:
    """Send ``request``; the (topic, record) that answers it."""
    await ensure_service_topics(settings)
    outputs = [settings.predictions_topic, settings.predictions_dlq_topic]
    async with producer(settings) as client, new_records(settings, client, outputs) as records:
        await client.send_and_wait(
            settings.match_requests_topic,
            request.model_dump_json(exclude_none=True).encode(),
            key=request.match_id.encode(),
        )
        try:
            async with asyncio.timeout(timeout):
                async for topic, record in records:
                    if _is_answer(topic, record, settings, request.request_id):
                        return topic, record
        except TimeoutError:
            pass
    raise CommandError(
        f"no answer to request {request.request_id} within {timeout:g}s "
        f"(is a worker running? check: python -m streams stack status, and its /ready)"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logging()
    request = build_request(args)
    topic, record = asyncio.run(ask(settings, request, args.timeout))
    if topic == settings.predictions_dlq_topic:
        error = record.get("error") or {}
        raise CommandError(
            f"request {request.request_id} was dead-lettered: "
            f"{error.get('type')}: {error.get('message')}"
        )
    print(json.dumps(record) if args.json else prediction_line(record))
    if not args.json:
        print(f"(request {request.request_id})", file=sys.stderr)
    return 0
