"""CI's short chaos run (issue 25): one kill, one rebalance, one Redis stop, and the ledger
must hold against the clean run of the same input.

``python -m bench.chaos --short`` on a synthetic season, run as a user runs it, on a
broker, redis-server and ``mlflow server`` of its own (so its SIGSTOP and SIGKILL reach
nothing else of the session). The long run and its numbers are in docs/benchmarks.md.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from devstack.worker import REPO
from tests.conftest import RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
LAST_LINE = re.compile(
    r"^chaos: (\d+) inputs, (\d+) lost, (\d+) duplicates, ratings identical: (yes|no), "
    r"scores identical: (yes|no), timelines exact: (yes|no)$"
)


def test_the_short_chaos_run_loses_nothing_and_ends_in_the_clean_runs_state(
    stack: RunningStack,  # the broker jars the chaos run's own broker links to
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--synthetic", "1500", "--short"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    report = f"stdout:\n{done.stdout}\nstderr (tail):\n{done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    assert "fault schedule (seed 25):" in lines, report
    assert sum("kill_worker" in line or "pause_redis" in line for line in lines) == 2, report
    found = LAST_LINE.match(lines[-1]) if lines else None
    assert found is not None, report
    inputs, lost = int(found[1]), int(found[2])
    assert inputs > 300 and lost == 0, report
    assert found.groups()[3:] == ("yes", "yes", "yes"), report
    assert done.returncode == 0, report
