"""Each finished match's result, as the read models score with it: ``match_to_result``.

A read model of the results topic, co-partitioned with the outputs, so the worker that
holds a match's forecasts holds its result too. A correction (a later ``finished`` event,
higher ``seq``) replaces the result; the same record read again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from schemas import HeldResult, MatchResult
from streams.faust_glue.decoded import DecodedTable
from streams.faust_glue.table_writer import TableWriter
from streams.newest import outranks
from streams.table_names import RESULTS_TABLE


class MatchResults:
    """Reads and writes ``match_to_result`` (JSON bytes per match id)."""

    name = RESULTS_TABLE

    def __init__(self, writer: TableWriter[str]) -> None:
        self.writer = writer
        self.decoded: DecodedTable[str, HeldResult] = DecodedTable(
            writer, HeldResult.model_validate_json
        )

    def hold(self, result: MatchResult, now: dt.datetime) -> bool:
        """Keep ``result`` unless it is held already or a correction of it is; whether it
        changed the match's result."""
        held = self.decoded.get(result.match_id)
        if held is not None and (
            held.result == result or not outranks(result.seq, held.result.seq)
        ):
            return False
        self.decoded.put(result.match_id, HeldResult(result=result, read_at=now))
        return True

    def get(self, match_id: str) -> HeldResult | None:
        return self.decoded.get(match_id)

    def forget(self, match_id: str) -> None:
        self.decoded.delete(match_id)

    def match_ids(self) -> Iterator[str]:
        return self.decoded.keys()

    def prune(self) -> None:
        self.decoded.prune()
