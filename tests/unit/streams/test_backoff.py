"""The fixed-interval polls of streams.backoff: when they check, when they give up."""

from __future__ import annotations

import asyncio
import time

import pytest

from streams.backoff import poll_until, poll_until_async


def test_a_poll_checks_until_true_at_its_interval() -> None:
    answers = iter([False, False, True])
    started = time.monotonic()
    assert poll_until(lambda: next(answers), timeout=5.0, interval=0.05)
    # Two waits of 0.05 s between three checks; far under the timeout.
    assert 0.1 <= time.monotonic() - started < 1.0
    assert next(answers, None) is None, "no check after the true one"


def test_a_poll_gives_up_after_its_timeout() -> None:
    calls = 0

    def never() -> bool:
        nonlocal calls
        calls += 1
        return False

    started = time.monotonic()
    assert not poll_until(never, timeout=0.3, interval=0.1)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.0
    assert 3 <= calls <= 5  # at 0, 0.1, 0.2, 0.3 s (give or take a scheduler tick)


def test_a_true_first_check_does_not_wait() -> None:
    started = time.monotonic()
    assert poll_until(lambda: True, timeout=5.0, interval=1.0)
    assert time.monotonic() - started < 0.5


def test_an_error_in_the_check_is_raised_not_polled() -> None:
    calls = 0

    def broken() -> bool:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    with pytest.raises(ConnectionError, match="down"):
        poll_until(broken, timeout=5.0, interval=0.01)
    assert calls == 1


async def test_an_async_poll_sleeps_its_interval_between_checks() -> None:
    answers = iter([False, False, False, True])
    slept: list[float] = []

    async def check() -> bool:
        return next(answers)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    assert await poll_until_async(check, timeout=5.0, interval=0.05, sleep=sleep)
    assert slept == [0.05, 0.05, 0.05]


async def test_an_async_poll_gives_up_after_its_timeout() -> None:
    async def never() -> bool:
        return False

    started = time.monotonic()
    assert not await poll_until_async(never, timeout=0.2, interval=0.05)
    assert 0.2 <= time.monotonic() - started < 1.0
