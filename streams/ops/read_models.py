"""How far behind the outputs each read model is: on ``/ready`` and the status page.

The read models wait while the champion has work on hand (``streams.read_models.agent``),
so being behind is expected under load and is said, not refused: ``/ready`` stays 200.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel, Field

from streams.handle import WorkerHandle
from streams.ops.consumer_lag import PartitionLag


class ReadModelLag(BaseModel):
    """One read model's distance from the outputs it is fed from."""

    name: str
    fed_from: list[str] = Field(description="The topics it is built from.")
    behind: int | None = Field(
        description="Records of those topics not applied yet (this worker's partitions); "
        "None until measured."
    )
    caught_up: bool
    measured_at: dt.datetime | None = Field(description="When ``behind`` was measured.")


def _behind(lags: Sequence[PartitionLag], topics: Sequence[str], measured: bool) -> int | None:
    if not measured:
        return None
    return sum(p.lag for p in lags if p.topic in topics)


def read_model_lags(worker: WorkerHandle) -> list[ReadModelLag]:
    """The timelines, the forecasts and scores, and the rating changes."""
    models, lag = worker.read_models, worker.lag
    measured = lag.measured_at is not None
    out = []
    for name, topics in (
        ("timelines", [models.predictions_topic]),
        ("forecasts and scores", list(models.topics)),
    ):
        behind = _behind(lag.partitions, topics, measured)
        out.append(
            ReadModelLag(
                name=name,
                fed_from=topics,
                behind=behind,
                caught_up=behind == 0,
                measured_at=lag.measured_at,
            )
        )
    results = worker.results
    if results is not None:
        out.append(
            ReadModelLag(
                name="rating changes",
                fed_from=[worker.settings.results_topic],
                behind=results.behind,
                caught_up=results.caught_up.is_set(),
                # The replica counts as it reads: its figure is always current.
                measured_at=dt.datetime.now(dt.UTC),
            )
        )
    return out
