"""The one way the service waits between attempts: exponential backoff with jitter.

Every retry loop (produce retries, topic creation, the pollers' failed rounds) takes its
delays from :func:`retrying`, built on tenacity, so none has a cadence of its own and many
workers retrying against one broker spread out instead of hammering it in step.
Regular (successful) polling rounds are spread by :func:`jittered`. Waiting for a condition
(a topic's leaders, a process's port) polls it at a fixed interval up to a deadline through
:func:`poll_until` or :func:`poll_until_async`, the same tenacity machinery.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_delay,
    stop_never,
    wait_exponential,
    wait_fixed,
    wait_random,
)

RetryHook = Callable[[RetryCallState], None]


def retrying(
    *,
    retry_on: Callable[[BaseException], bool],
    initial: float,
    maximum: float,
    on_retry: RetryHook | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    give_up_after: float | None = None,
) -> AsyncRetrying:
    """Attempts with delays ``initial``, ``2*initial``, ... up to ``maximum`` seconds, each
    plus up to ``initial`` of random jitter, for as long as ``retry_on(error)`` holds (and,
    with ``give_up_after``, until that many seconds have passed).

    Use as ``async for attempt in retrying(...): with attempt: ...``. An error for which
    ``retry_on`` is false, the last error when giving up, and cancellation are raised as
    they are.
    """
    return AsyncRetrying(
        retry=retry_if_exception(retry_on),
        # Jitter on top of the cap, so retries at the cap spread out too.
        wait=wait_exponential(multiplier=initial, max=maximum) + wait_random(0, initial),
        stop=stop_never if give_up_after is None else stop_after_delay(give_up_after),
        before_sleep=on_retry,
        sleep=sleep,
        reraise=True,
    )


def jittered(seconds: float, spread: float = 0.1) -> float:
    """``seconds`` moved by up to ``spread`` of itself either way, at random."""
    return seconds * random.uniform(1.0 - spread, 1.0 + spread)


def _polling(timeout: float, interval: float) -> dict[str, Any]:
    """Check, and while false wait ``interval`` and check again, until ``timeout`` seconds
    have passed since the first check; then the answer is False. An error is raised as it
    is."""
    return {
        "retry": retry_if_result(lambda done: not done),
        "stop": stop_after_delay(timeout),
        "wait": wait_fixed(interval),
        "retry_error_callback": lambda _state: False,
    }


def poll_until(check: Callable[[], bool], timeout: float, interval: float) -> bool:
    """Call ``check`` every ``interval`` seconds until it is true (True) or ``timeout``
    seconds pass (False); blocks the thread."""
    return bool(Retrying(**_polling(timeout, interval))(check))


async def poll_until_async(
    check: Callable[[], Awaitable[bool]],
    timeout: float,
    interval: float,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> bool:
    """:func:`poll_until` for a coroutine ``check``, sleeping with ``sleep``."""
    return bool(await AsyncRetrying(**_polling(timeout, interval), sleep=sleep)(check))
