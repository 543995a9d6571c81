"""The chaos run's fault schedule: seeded, printed, replayable (pure).

A schedule is a list of faults, each due when a given share of the input has been sent.
The same seed gives the same schedule, and the schedule prints one line per fault, so a
failing run can be replayed with ``--seed``. Two schedules:

- **full** (``python -m bench.chaos``): every fault of issue 25, some overlapping: a worker
  SIGKILLed then restarted, 2 -> 3 -> 2 workers, a broker restart, Redis SIGSTOPped for
  10 s, the MLflow registry stopped then started, the ``champion`` alias moved to the
  second version;
- **short** (CI, ``--short``): one kill, one rebalance (a third worker joins), one Redis
  stop.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal[
    "kill_worker",
    "start_worker",
    "stop_worker",
    "restart_broker",
    "pause_redis",
    "stop_registry",
    "start_registry",
    "move_champion",
]

#: How long Redis stays SIGSTOPped.
REDIS_PAUSE_SECONDS = 10.0


class Fault(BaseModel):
    """One fault, due once ``at`` of the input (0..1) has been sent."""

    model_config = ConfigDict(frozen=True)

    at: float = Field(ge=0, le=1)
    kind: FaultKind
    #: Which worker, for the faults on one (its index among those running, mod their count).
    worker: int = 0

    def line(self) -> str:
        target = f" worker {self.worker}" if self.kind in ("kill_worker", "stop_worker") else ""
        return f"at {self.at:5.1%} of the input: {self.kind}{target}"


def _jitter(rng: random.Random, centre: float, spread: float = 0.04) -> float:
    return round(min(max(centre + rng.uniform(-spread, spread), 0.0), 1.0), 4)


def full_schedule(seed: int) -> list[Fault]:
    """Every fault, at seeded points: a kill overlaps the Redis stop, the registry is down
    while the alias cannot move, and the broker restarts mid-season."""
    rng = random.Random(seed)
    kill_at = _jitter(rng, 0.12)
    faults = [
        Fault(at=kill_at, kind="kill_worker", worker=rng.randrange(2)),
        Fault(at=_jitter(rng, 0.13, 0.005), kind="pause_redis"),
        Fault(at=_jitter(rng, 0.22), kind="start_worker"),  # the killed one comes back
        Fault(at=_jitter(rng, 0.32), kind="start_worker"),  # 2 -> 3
        Fault(at=_jitter(rng, 0.42), kind="stop_worker", worker=rng.randrange(3)),  # 3 -> 2
        Fault(at=_jitter(rng, 0.52), kind="restart_broker"),
        Fault(at=_jitter(rng, 0.62), kind="stop_registry"),
        Fault(at=_jitter(rng, 0.70), kind="start_registry"),
        Fault(at=_jitter(rng, 0.80), kind="move_champion"),
        Fault(at=_jitter(rng, 0.88), kind="kill_worker", worker=rng.randrange(2)),
        Fault(at=_jitter(rng, 0.94), kind="start_worker"),
    ]
    return sorted(faults, key=lambda f: f.at)


def short_schedule(seed: int) -> list[Fault]:
    """CI's: one kill (and the restart), one rebalance, one Redis stop."""
    rng = random.Random(seed)
    faults = [
        Fault(at=_jitter(rng, 0.15), kind="kill_worker", worker=rng.randrange(2)),
        Fault(at=_jitter(rng, 0.35), kind="pause_redis"),
        Fault(at=_jitter(rng, 0.45), kind="start_worker"),
    ]
    return sorted(faults, key=lambda f: f.at)


def describe(faults: list[Fault], seed: int) -> str:
    return "\n".join([f"fault schedule (seed {seed}):", *(f"  {f.line()}" for f in faults)])
