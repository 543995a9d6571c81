"""Background loops as services: started and stopped with the app, retried with backoff."""

from __future__ import annotations

import mode
import structlog
from tenacity import RetryCallState

from streams.backoff import jittered, retrying

log = structlog.get_logger(__name__)


class RoundFailed(Exception):
    """A round failed and the service already reported why: retry it, log nothing more."""


class PollingService(mode.Service):
    """Calls :meth:`poll` every ``interval`` seconds (jittered) while the service runs.

    A round that raises is retried with backoff (from ``retry_initial`` up to
    ``retry_maximum`` seconds) until it succeeds; each new error is logged once. Stopping
    the service interrupts the wait, and :meth:`on_stop` closes what the service opened.
    """

    def __init__(
        self,
        interval: float,
        *,
        retry_initial: float = 0.5,
        retry_maximum: float | None = None,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.retry_initial = min(retry_initial, interval)
        self.retry_maximum = retry_maximum if retry_maximum is not None else interval
        self._last_logged: str | None = None

    async def poll(self) -> None:
        """One round of the loop; raise to have it retried with backoff."""
        raise NotImplementedError

    def _retry_on(self, error: BaseException) -> bool:
        return isinstance(error, Exception) and not self.should_stop

    def _on_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RoundFailed):
            return
        message = f"{type(error).__name__}: {error}"
        if message != self._last_logged:
            self._last_logged = message
            retry_in = state.next_action.sleep if state.next_action else None
            log.warning(
                "poll_failed", service=self.shortlabel, error=message[:300], retry_in=retry_in
            )

    @mode.Service.task
    async def _poll_forever(self) -> None:
        while not self.should_stop:
            try:
                async for attempt in retrying(
                    retry_on=self._retry_on,
                    initial=self.retry_initial,
                    maximum=self.retry_maximum,
                    on_retry=self._on_retry,
                    sleep=self.sleep,
                ):
                    with attempt:
                        await self.poll()
            except Exception:
                return  # only while stopping: otherwise every error is retried
            if self._last_logged is not None:
                log.info("poll_recovered", service=self.shortlabel)
                self._last_logged = None
            await self.sleep(jittered(self.interval))
