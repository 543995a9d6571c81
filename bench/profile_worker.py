"""Where one worker's time goes while it drains a backlog: py-spy, summarised.

    .venv/bin/python -m bench.profile_worker [--events 60000] [--batch-size 1024] [--seconds 8]
        [--mode gil|idle]

Produces a backlog, starts ``python -m streams worker``, and once predictions flow runs
``py-spy record --gil -f raw`` on it for ``--seconds``. Prints the share of GIL-holding
samples spent under each part of the hot path (inclusive, so parts nest and overlap) and
the top functions by own time. The raw profile stays in ``--out`` for flame graphs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.pipeline_latency import PER_MATCH, produce_backlog, train
from bench.workload import fresh_topics, read_stamps
from devstack.local_stack import LocalStack
from devstack.topics import delete_topics_named
from devstack.worker import WorkerProcess
from streams.faust_glue.topic_admin import ensure_topics
from streams.settings import Settings

# (label, substring of a py-spy frame "function (path:line)"): a sampled stack counts for
# every part it passes through, so nested parts are shares of their parent's time too.
PARTS = [
    ("flow: handle a batch (to the sends)", "livescores (streams/flow/batch.py"),
    ("  decode (pydantic from bytes)", "decode (streams/flow/decode.py"),
    ("  match state: load + write", "MatchStates."),
    ("  serving input (enrich)", "serving_input (streams/flow/enrich.py"),
    ("  predict (model)", "predict_rows (streams/flow/predict.py"),
    ("  build Prediction objects", "prediction_for (streams/flow/predict.py"),
    ("  publish: dump + produce", "Publisher.send (streams/flow/publish.py"),
    ("  confirm: acks, Redis, shadow", "BatchProcessor._confirm"),
    ("    produce calls", "send_all (streams/flow/publish.py"),
    ("    Redis write", "write (streams/sinks/redis_latest.py"),
    ("read models: apply outputs", "ReadModels.apply (streams/read_models/builder.py"),
    ("faust: stream machinery", "faust/streams.py"),
    ("our batch loop (ReadyTake, BatchLoop)", "streams/flow/agents.py"),
    ("faust: consumer + fetcher", "faust/transport/"),
    ("aiokafka (client, protocol, records)", "aiokafka/"),
    ("asyncio event loop itself", "asyncio/base_events.py"),
]


def summarise(raw: str, top: int = 15) -> str:
    """Inclusive shares per part and the top own-time functions of a py-spy raw profile."""
    stacks: list[tuple[list[str], int]] = []
    for line in raw.splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    total = sum(n for _, n in stacks) or 1
    lines = [f"{total:,} samples", "", "inclusive share of samples:"]
    for label, needle in PARTS:
        hits = sum(n for frames, n in stacks if any(needle in f for f in frames))
        lines.append(f"  {label:<42}{hits / total:>7.1%}")
    own: collections.Counter[str] = collections.Counter()
    for frames, n in stacks:
        own[frames[-1]] += n
    lines += ["", f"top {top} functions by own time:"]
    lines += [f"  {n / total:>6.1%}  {frame[:110]}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


async def profile(args: argparse.Namespace, root: Path) -> None:
    base = train(root)
    settings = fresh_topics(base, "profile")
    settings = Settings(**{**settings.model_dump(), "batch_size": args.batch_size})
    await ensure_topics(settings)
    await produce_backlog(settings, args.events, args.events // PER_MATCH)
    worker = WorkerProcess(settings, root / "worker.log").launch()
    try:
        worker.wait_ready(timeout=180)
        await read_stamps(settings, settings.predictions_topic, 500, 120)
        assert worker.proc is not None
        py_spy = str(Path(sys.executable).with_name("py-spy"))
        command = [py_spy, "record", f"--{args.mode}", "--nonblocking", "-f", "raw", "-r", "200"]
        command += ["-d", str(args.seconds), "-p", str(worker.proc.pid), "-o", str(args.out)]
        await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True)
    finally:
        worker.stop()
        await delete_topics_named(settings, settings.consumer_group)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--out", default="/tmp/worker-profile.txt")
    parser.add_argument(
        "--mode",
        choices=["gil", "idle"],
        default="gil",
        help="gil: CPU (samples holding the GIL); idle: wall time, waits included",
    )
    args = parser.parse_args()
    LocalStack(Settings()).up()
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        asyncio.run(profile(args, Path(tmp)))
    print(summarise(Path(args.out).read_text()))
    print(f"\nraw profile: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
