"""The serving model: resolved from the registry alias, hot-swapped when the alias moves.

Resolving, loading and warming run in worker threads, so the event loop keeps serving the
old model meanwhile. The swap is one reference assignment on the event loop: a batch reads
``server.current`` once, so every prediction names the version that made it. If the
registry is unreachable the current model keeps serving; with no model at all the service
is not ready and keeps retrying with backoff.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from schemas import ModelRef
from schemas.features import warm_up_input
from streams.live.model_source import ModelSource, Predictor, predict
from streams.metrics import Metrics
from streams.polling import PollingService, RoundFailed

log = structlog.get_logger(__name__)
#: Longest wait between attempts while the registry fails or no model serves yet.
RETRY_MAXIMUM_SECONDS = 5.0
#: A challenger version that failed to load is tried again this much later (or as soon as
#: its alias moves): loading a model every poll would cost the champion's worker dearly.
CHALLENGER_RETRY_SECONDS = 300.0


class ModelRefreshError(RoundFailed):
    """A resolve or load failed; the poller retries it with backoff."""


@dataclass(frozen=True)
class ServingModel:
    """A loaded model and the exact registry version it is."""

    ref: ModelRef
    predictor: Predictor
    loaded_at: dt.datetime


class ModelServer(PollingService):
    """Holds the serving model and the challengers that run in shadow; polls the aliases."""

    def __init__(
        self,
        source: ModelSource,
        alias: str,
        metrics: Metrics,
        poll_seconds: float,
        challenger_aliases: tuple[str, ...] = ("challenger",),
    ) -> None:
        super().__init__(poll_seconds, retry_maximum=min(poll_seconds, RETRY_MAXIMUM_SECONDS))
        self.source = source
        self.alias = alias
        self.challenger_aliases = challenger_aliases
        self.metrics = metrics
        self.current: ServingModel | None = None
        #: Loaded challengers by alias (a challenger that is the champion's version is not
        #: run twice); swapped as a whole dict, so a batch reads one consistent set.
        self.challengers: dict[str, ServingModel] = {}
        #: Why a challenger alias is not loaded (unset aliases are not errors).
        self.challenger_errors: dict[str, str] = {}
        #: alias -> (version that failed to load, when, on the monotonic clock).
        self._refused: dict[str, tuple[str, float]] = {}
        #: alias -> the champion that gave way when that alias's version was promoted.
        self._demoted: dict[str, ServingModel] = {}
        self.last_error: str | None = None
        self.last_checked: dt.datetime | None = None
        self.ready = asyncio.Event()
        #: Called on the event loop after each swap (the heap freezer listens).
        self.on_swap: list[Callable[[ServingModel], None]] = []
        self._lock = asyncio.Lock()

    async def poll(self) -> None:
        await self.refresh()
        if self.last_error is not None:
            raise ModelRefreshError(self.last_error)

    async def refresh(self) -> bool:
        """Re-resolve the alias; load and swap in a new version. True when swapped."""
        async with self._lock:  # a poll and POST /model/reload never load concurrently
            try:
                ref = await asyncio.to_thread(self.source.resolve, self.alias)
            except Exception as exc:  # the registry client raises many types when down
                self._note_error("resolve", exc)
                return False
            self.last_checked = dt.datetime.now(dt.UTC)
            self.metrics.model_last_resolved.set(self.last_checked.timestamp())
            swapped = False
            if self.current is None or self.current.ref.version != ref.version:
                promoted = self._held(ref)
                if promoted is not None:
                    model = promoted
                else:
                    try:
                        model = await asyncio.to_thread(self._load_and_warm, ref)
                    except Exception as exc:
                        self._note_error("load", exc)
                        return False
                if self.current is None:
                    # At start-up the challengers load before the first batch may run, so
                    # the shadow covers every batch; later they load beside the serving one.
                    await self._refresh_challengers(ref)
                self._swap(model)
                swapped = True
            self.last_error = None
            await self._refresh_challengers(ref)
            return swapped

    @property
    def challenger(self) -> ModelRef | None:
        """The first challenger's version (the contract's "challenger if any")."""
        first = next(iter(self.challengers.values()), None)
        return first.ref if first else None

    def _held(self, ref: ModelRef) -> ServingModel | None:
        """The challenger already loaded at ``ref``'s version, to serve as the champion
        resolved by ``ref`` (a promotion then loads nothing), or None."""
        for held in self.challengers.values():
            if held.ref.version == ref.version:
                return ServingModel(ref=ref, predictor=held.predictor, loaded_at=held.loaded_at)
        return None

    async def _refresh_challengers(self, champion: ModelRef) -> None:
        loaded: dict[str, ServingModel] = {}
        for alias in self.challenger_aliases:
            ref = await asyncio.to_thread(self._try_resolve, alias)
            held = self.challengers.get(alias)
            if ref is None or ref.version == champion.version:
                self.challenger_errors.pop(alias, None)
                if held is not None and held is self._demoted.get(alias):
                    # The alias names the champion because its version was promoted:
                    # ``_swap`` put the champion it replaced in its place, which keeps
                    # predicting in shadow until the alias moves, so no batch around a
                    # promotion goes unpredicted by either version.
                    loaded[alias] = held
                continue
            if held is not None and held.ref.version == ref.version:
                loaded[alias] = held
                continue
            refused = self._refused.get(alias)
            if (
                refused is not None
                and refused[0] == ref.version
                and time.monotonic() - refused[1] < CHALLENGER_RETRY_SECONDS
            ):
                continue  # its error stays on show until the retry or an alias move
            try:
                loaded[alias] = await asyncio.to_thread(self._load_and_warm, ref)
            except Exception as exc:  # a broken challenger must not touch the champion
                self.challenger_errors[alias] = f"load: {type(exc).__name__}: {exc}"[:300]
                self._refused[alias] = (ref.version, time.monotonic())
                log.warning(
                    "challenger_load_failed",
                    alias=alias,
                    version=ref.version,
                    error=self.challenger_errors[alias],
                    retry_in=CHALLENGER_RETRY_SECONDS,
                )
                continue
            self._refused.pop(alias, None)
            self.challenger_errors.pop(alias, None)
            log.info("challenger_loaded", alias=alias, version=ref.version)
        self.challengers = loaded

    def _swap(self, model: ServingModel) -> None:
        """Serve ``model``. A challenger of its version (it was promoted) gives its place
        to the champion it replaces, in the same step: every batch sees both versions."""
        outgoing = self.current
        previous = outgoing.ref.version if outgoing else None
        if outgoing is not None:
            self._demoted = {
                alias: ServingModel(
                    ref=outgoing.ref.model_copy(update={"alias": alias}),
                    predictor=outgoing.predictor,
                    loaded_at=outgoing.loaded_at,
                )
                for alias, held in self.challengers.items()
                if held.ref.version == model.ref.version
            }
            self.challengers = self.challengers | self._demoted
        self.current = model
        self.last_error = None
        self.ready.set()
        ref = model.ref
        self.metrics.model_reloads.labels(result="swapped").inc()
        self.metrics.model_info.info(
            {
                "name": ref.name,
                "version": ref.version,
                "alias": ref.alias,
                "run_id": ref.run_id or "",
            }
        )
        log.info("model_swapped", version=ref.version, previous=previous, alias=ref.alias)
        for listener in self.on_swap:
            listener(model)

    def _try_resolve(self, alias: str) -> ModelRef | None:
        try:
            return self.source.resolve(alias)
        except Exception:  # no challenger is normal
            return None

    def _load_and_warm(self, ref: ModelRef) -> ServingModel:
        predictor = self.source.load(ref)
        # One predict before the swap: lazy imports and first-call allocations happen
        # here, in this thread, not in the first live batch.
        probabilities = predict(predictor, warm_up_input())
        if probabilities.ndim != 2 or probabilities.shape[1] != 3:
            raise ValueError(f"model returned shape {probabilities.shape}, expected (N, 3)")
        return ServingModel(ref=ref, predictor=predictor, loaded_at=dt.datetime.now(dt.UTC))

    def _note_error(self, stage: str, exc: BaseException) -> None:
        message = f"{stage}: {type(exc).__name__}: {exc}"
        if message != self.last_error:
            log.warning(
                "model_refresh_failed",
                stage=stage,
                error=str(exc)[:300],
                serving=self.current.ref.version if self.current else None,
            )
        self.last_error = message
        self.metrics.model_reloads.labels(result=f"{stage}_error").inc()
