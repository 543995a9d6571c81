"""The Faust patches, tested against Faust's own classes: each fails without its patch."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from faust.transport.consumer import Consumer, ThreadDelegateConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types.tuples import TP

from streams.faust_glue import patches as faust_patches


class SeekingConsumer:
    """Just what ``perform_seek`` and ``_getmany`` touch, recording the order of calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fetch_sent = asyncio.Event()
        self.fetch_returns = asyncio.Event()
        self.flow_stopped = asyncio.Event()
        self._thread = SimpleNamespace(getmany=self._thread_getmany)
        self.flow_active = True
        self._read_offset: dict[TP, int | None] = {TP("in", 0): 180}
        self._committed_offset: dict[TP, int | None] = {}

    def stop_flow(self) -> None:
        self.calls.append("stop_flow")
        self.flow_active = False
        self.flow_stopped.set()

    async def seek_to_committed(self) -> dict[TP, int]:
        self.calls.append(f"seek(flow_active={self.flow_active})")
        return {TP("in", 0): 115}

    async def _thread_getmany(self, active_partitions: object, timeout: float) -> dict:
        self.calls.append("fetch sent")
        self.fetch_sent.set()
        await self.fetch_returns.wait()
        self.calls.append("fetch landed")
        return {}


async def test_seek_to_committed_runs_with_the_delivery_loop_stopped() -> None:
    faust_patches.apply_faust_patches()
    consumer = SeekingConsumer()

    await Consumer.perform_seek(consumer)  # type: ignore[arg-type]

    assert consumer.calls == ["stop_flow", "seek(flow_active=False)"]
    assert consumer._read_offset[TP("in", 0)] == 115, "re-read from the committed offset"
    assert consumer._committed_offset[TP("in", 0)] == 115


async def test_seek_waits_for_a_fetch_in_flight_to_land() -> None:
    faust_patches.apply_faust_patches()
    consumer = SeekingConsumer()
    fetch = asyncio.create_task(ThreadDelegateConsumer._getmany(consumer, set(), 1.0))  # type: ignore[arg-type]
    await consumer.fetch_sent.wait()
    seek = asyncio.create_task(Consumer.perform_seek(consumer))  # type: ignore[arg-type]
    # A seek that did not wait would have run by the time the flow's stop wakes us: it has
    # nothing to wait on in between.
    await consumer.flow_stopped.wait()
    assert consumer.calls == ["fetch sent", "stop_flow"], "no seek while records are coming"

    consumer.fetch_returns.set()
    await asyncio.gather(fetch, seek)

    assert consumer.calls[2:] == ["fetch landed", "seek(flow_active=False)"]


async def test_seek_to_committed_rewinds_partitions_never_committed() -> None:
    faust_patches.apply_faust_patches()
    rewound: list[TP] = []

    async def committed() -> dict[TP, int | None]:
        return {TP("in", 0): 115, TP("in", 1): None, TP("state-changelog", 1): None}

    async def seek_to_beginning(*tps: TP) -> None:
        rewound.extend(tps)

    consumer = SimpleNamespace(
        app=SimpleNamespace(conf=SimpleNamespace(consumer_auto_offset_reset="earliest")),
        _thread=SimpleNamespace(seek_to_committed=committed, seek_to_beginning=seek_to_beginning),
        _is_changelog_tp=lambda tp: tp.topic.endswith("-changelog"),
    )
    offsets = await ThreadDelegateConsumer.seek_to_committed(consumer)  # type: ignore[arg-type]

    assert offsets == {TP("in", 0): 115, TP("in", 1): None, TP("state-changelog", 1): None}
    assert rewound == [TP("in", 1)], "only the input partition with no committed offset"


def test_patches_apply_once() -> None:
    faust_patches.apply_faust_patches()
    seek, create = Consumer.perform_seek, AIOKafkaConsumerThread._create_worker_consumer
    faust_patches.apply_faust_patches()
    assert (Consumer.perform_seek, AIOKafkaConsumerThread._create_worker_consumer) == (
        seek,
        create,
    )


def test_worker_consumer_gets_the_short_fetch_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    made = SimpleNamespace(_fetch_max_wait_ms=1500)
    monkeypatch.setattr(AIOKafkaConsumerThread, "_create_worker_consumer", lambda s, t: made)

    faust_patches.bound_fetch_wait()
    consumer = AIOKafkaConsumerThread._create_worker_consumer(object(), object())  # type: ignore[arg-type]

    assert consumer is made and made._fetch_max_wait_ms == faust_patches.FETCH_MAX_WAIT_MS


def test_the_installed_versions_are_the_ones_the_patches_are_written_for() -> None:
    faust_patches.check_versions()  # what the worker does at start-up


@pytest.mark.parametrize(
    ("package", "found"), [("faust-streaming", "0.16.0"), ("aiokafka", "0.15.1")]
)
def test_another_minor_version_is_refused_in_one_line(package: str, found: str) -> None:
    written_for = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}

    def installed(name: str) -> str:
        return found if name == package else written_for[name]

    with pytest.raises(faust_patches.UnsupportedFaust, match=f"{package} {found}") as caught:
        faust_patches.check_versions(installed)
    assert "\n" not in str(caught.value)
