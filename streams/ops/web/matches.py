"""Match pages: ``GET /matches`` and ``GET /matches/{match_id}`` (HTML, one static page
whose script draws everything) and their data, ``GET /matches.json`` and
``GET /matches/{match_id}.json``.

The data is the match's state (``match_to_state``) and its timeline (the read model
``match_to_outputs``), which only the worker owning the match's partition writes. A
match's JSON asked of another worker is proxied to the owner, found with Faust's own table
routing (``app.router.key_store``, the lookup behind ``app.table_route``); so the page
works on any worker behind one address. The list is of this worker's active partitions
only, and names the workers holding the others.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

import aiohttp
import faust
import structlog
from faust.web import Request, Response, View
from yarl import URL

from schemas import MatchTeams
from streams.faust_glue.partitions import owned_partitions, partition_of
from streams.handle import WorkerHandle
from streams.ops.matches import SPARK_POINTS, MatchRecord, match_list, match_view
from streams.table_names import MATCH_STATE_TABLE

log = structlog.get_logger(__name__)

MATCH_PAGES = resources.files("streams.ops.web").joinpath("match_pages.html").read_text("utf-8")
#: The table whose routing says which worker owns a match.
MATCH_TABLE: Final = MATCH_STATE_TABLE
#: Set on a proxied request: the owner answers it itself, whatever its own routing says
#: (during a rebalance two workers may each think the other owns a match).
ROUTED_HEADER: Final = "X-Soccerpredict-Routed"
PROXY_TIMEOUT = aiohttp.ClientTimeout(total=5.0)
#: Always fresh: the page polls its data. (The web driver adds the CSP, which lets the
#: page's inline script and style run and fetch from here only, and nosniff.)
NO_STORE: Final = {"Cache-Control": "no-store"}


def _ident(url: URL) -> tuple[str, int]:
    return (url.host or "", url.port or 80)


def owner_of(app: faust.App, match_id: str) -> URL | None:
    """The web address of the worker owning ``match_id``; None when it is this one, or
    when no assignment says (before the first rebalance ends: serve what is here)."""
    try:
        owner = URL(str(app.router.key_store(MATCH_TABLE, match_id)))
    except Exception:  # no assignment or metadata yet: nothing to route by
        return None
    return None if _ident(owner) == _ident(URL(str(app.conf.canonical_url))) else owner


def other_workers(app: faust.App) -> list[str]:
    """The other workers holding partitions of the table, by their web address."""
    try:
        hosts = app.router.table_metadata(MATCH_TABLE)
    except Exception:  # before the first assignment there are none known
        return []
    me = _ident(URL(str(app.conf.canonical_url)))
    return [str(url) for url in hosts if _ident(URL(str(url))) != me]


def register_match_views(app: faust.App, worker: WorkerHandle) -> None:
    """Attach the match pages to ``app``; they read the worker's match states and its
    timelines read model."""
    table = app.tables[MATCH_TABLE]
    outputs = worker.read_models.outputs
    partitions = worker.settings.topic_partitions
    changelog_topic = table.changelog_topic.get_topic_name()

    def served_by() -> str:
        return str(app.conf.canonical_url)

    def teams_of(match_id: str) -> MatchTeams | None:
        state = worker.states.get(match_id)
        if state is not None and state.teams is not None:
            return state.teams
        fixture = worker.ratings.fixtures.get(match_id)
        if fixture is None:
            return None
        return MatchTeams(
            home_team=fixture.home_team,
            away_team=fixture.away_team,
            neutral=fixture.neutral,
            tournament=fixture.tournament,
            date=fixture.date,
        )

    def record_of(match_id: str, whole: bool) -> MatchRecord | None:
        """The match's record: its whole timeline, or (for the list) its newest points."""
        state = worker.states.get(match_id)
        count = outputs.timeline_count(match_id)
        if state is None and not count:
            return None
        return MatchRecord(
            state=state,
            teams=teams_of(match_id),
            points=outputs.timeline(match_id, last=None if whole else SPARK_POINTS),
            pre_match=outputs.pre_match(match_id) if whole else None,
            count=count,
        )

    def page(view: View) -> Response:
        return view.html(MATCH_PAGES, headers=dict(NO_STORE))

    def json_of(view: View, body: bytes, status: int = 200) -> Response:
        return view.bytes(
            body, content_type="application/json", status=status, headers=dict(NO_STORE)
        )

    async def proxied(view: View, request: Request, owner: URL) -> Response:
        url = request.url.with_scheme(owner.scheme or "http").with_host(owner.host or "")
        url = url.with_port(owner.port)
        try:
            async with app.http_client.get(
                url, headers={ROUTED_HEADER: "1"}, timeout=PROXY_TIMEOUT
            ) as answer:
                return json_of(view, await answer.read(), answer.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("match_proxy_failed", url=str(url), error=repr(exc))
            body = {"error": f"the worker owning this match ({owner}) did not answer: {exc!r}"}
            return view.json(body, status=502, headers=dict(NO_STORE))

    def one_match(view: View, match_id: str) -> Response:
        record = record_of(match_id, whole=True)
        if record is None:
            return view.json(
                {"error": f"no match {match_id!r} on this worker"},
                status=404,
                headers=dict(NO_STORE),
            )
        data = match_view(match_id, record, served_by(), worker.ratings.elo_change(match_id))
        return json_of(view, data.model_dump_json().encode())

    @app.page("/matches")
    class Matches(View):
        async def get(self, request: Request) -> Response:
            return page(self)

    @app.page("/matches.json")
    class MatchesJson(View):
        async def get(self, request: Request) -> Response:
            # The table's own active partitions, the ones its router sends here: then
            # every match listed is one whose JSON this worker serves itself.
            owned = owned_partitions(app, changelog_topic)
            records = [
                (m, record)
                for m in outputs.timeline_match_ids()
                if partition_of(m, partitions) in owned
                and (record := record_of(m, whole=False)) is not None
            ]
            listed = match_list(records, served_by(), owned, other_workers(app))
            return json_of(self, listed.model_dump_json().encode())

    @app.page("/matches/{match_id}")
    class Match(View):
        async def get(self, request: Request, match_id: str) -> Response:
            # One route for both: the page and its data share the match's path.
            if not match_id.endswith(".json"):
                return page(self)
            match_id = match_id.removesuffix(".json")
            owner = None if request.headers.get(ROUTED_HEADER) else owner_of(app, match_id)
            if owner is not None:
                return await proxied(self, request, owner)
            return one_match(self, match_id)
