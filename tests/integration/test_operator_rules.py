"""The operator's alert rules (deploy/prometheus/) and Grafana dashboard (deploy/grafana/).

- ``promtool check rules`` and ``promtool test rules`` pass: every alert fires on its bad
  series and stays silent on its good one (``alerts_test.yml``). A missing ``promtool``
  (Debian package ``prometheus``, which ``scripts/bootstrap.sh`` installs) fails these
  tests; it does not skip them.
- The dashboard is JSON Grafana can load, every panel has a query, and every query parses
  as PromQL (promtool checks them as recording rules once Grafana's variables are filled).
- Every metric name in every PromQL expression of the dashboard and of ``alerts.yml`` is
  one a real worker exports: the names come from the ``# TYPE`` lines of a running
  worker's ``GET /metrics`` (printed even for labelled metrics with no samples yet),
  expanded as the text format does (a histogram's ``_bucket``/``_sum``/``_count``, a
  counter's ``_total``). Names come out of PromQL with a small lexer
  (:func:`metric_names`) that drops strings, label matchers, ranges and the label lists of
  ``by``/``without``/``on``/``ignoring``/``group_*``, knows PromQL's functions and keywords,
  and calls every other identifier a metric name, so ``up`` or a typo fails too.
- ``promtool check metrics`` passes on a real worker's ``GET /metrics`` once it has scored
  matches: promtool skips a family with no samples, so the live-quality gauges are checked
  only when results have filled them. Their values add up as the calibration bins must.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from devstack.worker import REPO, WorkerProcess, http_get
from schemas import OUTCOMES, PHASES
from streams.settings import Settings
from tests.conftest import RunningStack, topics_deleted_after
from tests.integration.conftest import TrainedRegistry
from tests.integration.module_worker import module_settings, ready_worker
from tests.integration.test_evaluation import (
    model_body,
    play,
    real_results,
    scored,
    served_scores,
    wait_for,
)
from tests.tools import require_tool

pytestmark = pytest.mark.timeout(180)

RULES_DIR = REPO / "deploy" / "prometheus"
ALERTS = RULES_DIR / "alerts.yml"
ALERT_TESTS = RULES_DIR / "alerts_test.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "soccerpredict.json"
SEVERITIES = {"warning", "critical"}

#: The gauges of the live scores and calibration, by the names the dashboard and the docs use,
#: written out rather than imported: the test pins the names the worker exports.
SCORED_FORECASTS = "soccer_model_scored_forecasts"
SUMMED_SCORE = "soccer_model_summed_score"
CALIBRATION = (
    "soccer_model_calibration_forecasts",
    "soccer_model_calibration_predicted_outcomes",
    "soccer_model_calibration_observed_outcomes",
)
SCORES = ("log_loss", "brier", "rps")

#: Grafana's variables, filled in so the dashboard's queries can be parsed as PromQL.
GRAFANA_VARIABLES = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "job": "soccerpredict",
    "instance": ".*",
    "score": "log_loss",
}

# --- Metric names out of PromQL -------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: PromQL's functions (Prometheus 3.x, the experimental ones included).
FUNCTIONS = _words(
    """
    abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes
    clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year
    days_in_month deg delta deriv double_exponential_smoothing end exp floor histogram_avg
    histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar
    histogram_sum holt_winters hour idelta increase info irate label_join label_replace
    last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi
    predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin
    sinh sort sort_by_label sort_by_label_desc sort_desc sqrt start stddev_over_time
    stdvar_over_time sum_over_time tan tanh time timestamp vector year
    """
)
AGGREGATIONS = _words(
    "avg bottomk count count_values group limit_ratio limitk max min quantile stddev stdvar sum "
    "topk"
)
#: Followed by a parenthesised list of label names, which are not metrics.
GROUPING = _words("by without on ignoring group_left group_right")
KEYWORDS = _words("and or unless bool offset inf nan")

_TOKENS = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>\#[^\n]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<variable>\$\{[^}]*\}|\$[A-Za-z_]\w*)
    | (?P<range>\[[^\]]*\])
    | (?P<duration>(?:\d+(?:ms|[smhdwy]))+(?![\w:]))
    | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<ident>[A-Za-z_:][\w:]*)
    | (?P<open>[({])
    | (?P<close>[)}])
    | (?P<other>.)
    """,
    re.VERBOSE,
)


def _tokens(expr: str) -> list[tuple[str, str]]:
    tokens = []
    for match in _TOKENS.finditer(expr):
        kind = match.lastgroup
        assert kind is not None
        if kind not in {"space", "comment", "variable"}:
            tokens.append((kind, match.group()))
    return tokens


def _skip_group(tokens: list[tuple[str, str]], start: int) -> int:
    """The index after the bracket group that opens at ``start``."""
    depth = 0
    for i in range(start, len(tokens)):
        kind, _ = tokens[i]
        depth += {"open": 1, "close": -1}.get(kind, 0)
        if depth == 0:
            return i + 1
    raise ValueError("unbalanced brackets")


def metric_names(expr: str) -> set[str]:
    """Every metric name ``expr`` selects. ValueError for what cannot be checked: an
    identifier called like a function that PromQL does not have, or a ``__name__``
    matcher."""
    tokens = _tokens(expr)
    depth = 0
    for kind, _ in tokens:
        depth += {"open": 1, "close": -1}.get(kind, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ValueError(f"unbalanced brackets: {expr}")
    names: set[str] = set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "open" and text == "{":  # label matchers: label names and strings
            end = _skip_group(tokens, i)
            if any(t == "__name__" for _, t in tokens[i:end]):
                raise ValueError(f"a __name__ matcher cannot be checked: {expr}")
            i = end
            continue
        if kind != "ident":
            i += 1
            continue
        word = text.lower()
        if word in GROUPING:
            i = _skip_group(tokens, i + 1) if following == "(" else i + 1
            continue
        if word in AGGREGATIONS or word in KEYWORDS:
            pass
        elif following == "(":
            if text not in FUNCTIONS:
                raise ValueError(f"{text}() is not a PromQL function: {expr}")
        else:
            names.add(text)
        i += 1
    return names


# --- What the rules and the dashboard query ---------------------------------------------


def promtool() -> str:
    return require_tool("promtool")


def run_promtool(
    *args: str, cwd: Path = RULES_DIR, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def fill_grafana_variables(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in GRAFANA_VARIABLES:
            raise AssertionError(f"${name} is not a variable of the dashboard: {expr}")
        return GRAFANA_VARIABLES[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def label_values_selector(query: str) -> str:
    """The series selector of a Grafana ``label_values(selector, label)`` query."""
    match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query, re.DOTALL)
    assert match, f"not a label_values(...) query: {query}"
    return match.group(1)


def dashboard_queries() -> dict[str, str]:
    """Every PromQL expression of the dashboard, by where it is."""
    board = dashboard()
    queries = {}
    for panel in dashboard_panels(board):
        for target in panel.get("targets", []):
            queries[f"panel {panel['id']} {panel['title']!r} {target['refId']}"] = target["expr"]
    for annotation in board["annotations"]["list"]:
        if "expr" in annotation:
            queries[f"annotation {annotation['name']!r}"] = annotation["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            queries[f"variable ${variable['name']}"] = label_values_selector(
                variable["query"]["query"]
            )
    return queries


def alert_queries() -> dict[str, str]:
    return {f"alert {rule['alert']}": rule["expr"] for rule in alert_rules()}


# --- promtool ----------------------------------------------------------------------------


def test_promtool_checks_the_rules() -> None:
    result = run_promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_unit_tests_of_every_alert_pass() -> None:
    result = run_promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    cases: dict[str, dict[str, int]] = {}
    for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            outcome = "fires" if case.get("exp_alerts") else "silent"
            counts = cases.setdefault(case["alertname"], {"fires": 0, "silent": 0})
            counts[outcome] += 1
    alerts = {rule["alert"] for rule in alert_rules()}
    assert set(cases) == alerts
    untested = {name: c for name, c in cases.items() if not (c["fires"] and c["silent"])}
    assert untested == {}, f"alerts without a firing and a silent case: {untested}"


def test_every_alert_says_how_long_how_bad_what_and_where_to_look() -> None:
    rules = alert_rules()
    assert len(rules) == 8
    for rule in rules:
        name = rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), f"{name}: no for:"
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook"} <= set(annotations), name
        assert "$value" in annotations["description"], f"{name}: description lacks the value"
        assert re.search(r"docs/[a-z-]+\.md|GET /", annotations["runbook"]), name
        for link in re.findall(r"docs/[a-z-]+\.md(?:#[a-z0-9-]+)?", annotations["runbook"]):
            assert link_resolves(link), f"{name}: runbook link {link} leads nowhere"


def link_resolves(link: str) -> bool:
    """Whether ``docs/x.md#anchor`` is a file of the repo with a heading of that anchor."""
    path, _, anchor = link.partition("#")
    document = REPO / path
    if not document.is_file():
        return False
    headings = re.findall(r"^#+ (.+)$", document.read_text(encoding="utf-8"), re.M)
    # GitHub's anchors: lower case, punctuation dropped, spaces as hyphens.
    slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
    return not anchor or anchor in slugs


def test_a_runbook_link_to_a_missing_heading_is_caught() -> None:
    assert link_resolves("docs/operating.md#http-endpoints")
    assert link_resolves("docs/operating.md#auth-of-post-modelreload")
    assert not link_resolves("docs/operating.md#no-such-heading")
    assert not link_resolves("docs/nowhere.md")


# --- The dashboard -------------------------------------------------------------------------


def test_dashboard_is_grafana_json_with_a_datasource_and_a_worker_variable() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 36 and board["uid"] and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"job", "instance"} <= set(variables)
    ids = [panel["id"] for panel in dashboard_panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"


def test_every_dashboard_panel_has_a_query_on_the_datasource_variable() -> None:
    board = dashboard()
    source = {"type": "prometheus", "uid": "${datasource}"}
    panels = [p for p in dashboard_panels(board) if p["type"] != "row"]
    assert len(panels) >= 14
    for panel in panels:
        where = f"panel {panel['id']} {panel['title']!r}"
        assert panel.get("targets"), f"{where} has no query"
        assert panel["datasource"] == source, where
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), f"{where} {target.get('refId')}: empty"
            assert target["datasource"] == source, where


def test_dashboard_panels_do_not_overlap() -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in dashboard_panels(dashboard()):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[x, y]!r}"
                taken[x, y] = panel["title"]


def test_dashboard_shows_what_an_operator_needs() -> None:
    queries = " ".join(dashboard_queries().values())
    for needed in (
        "sum by (topic) (rate(soccer_events_in_total",
        "sum by (trigger) (rate(soccer_predictions_total",
        "sum by (reason) (rate(soccer_dead_letters_total",
        "histogram_quantile(0.99, sum by (le, trigger) "
        "(rate(soccer_event_to_prediction_seconds_bucket",
        "soccer_batch_size_bucket",
        "sum by (le, stage) (rate(soccer_batch_stage_seconds_bucket",
        "sum by (topic, partition) (soccer_consumer_lag",
        "soccer_serving_model_info",
        "soccer_feature_table_age_seconds",
        "soccer_newest_result_age_seconds",
        SUMMED_SCORE,
        "soccer_redis_pending_matches",
        "soccer_ready",
        "soccer_partition_stalled",
    ):
        assert needed in queries, needed


def test_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard:query_{n}", "expr": fill_grafana_variables(expr)}
        for n, expr in enumerate(dashboard_queries().values())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- The metric-name extractor on its own ------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (topic, partition) (soccer_consumer_lag{job="x", topic=~"live.*"})',
            {"soccer_consumer_lag"},
        ),
        (
            "histogram_quantile(0.95, sum by (le, stage) "
            "(rate(soccer_batch_stage_seconds_bucket[$__rate_interval])))",
            {"soccer_batch_stage_seconds_bucket"},
        ),
        (
            "sum(rate(a_total[5m])) by (le) / on (job) group_left (topic) "
            "sum without (instance) (b_total offset 1h30m)",
            {"a_total", "b_total"},
        ),
        (
            "deriv(sum without (instance, pod, partition) (soccer_consumer_lag)[10m:1m]) > 0",
            {"soccer_consumer_lag"},
        ),
        (
            "time() - soccer_model_last_resolved_timestamp_seconds > 600",
            {"soccer_model_last_resolved_timestamp_seconds"},
        ),
        (
            "soccer_feature_table_age_seconds > 2 * 86400 and bool 1e3 < Inf",
            {"soccer_feature_table_age_seconds"},
        ),
        (
            'label_replace(up, "by", "$1", "le", "(.*)") unless ignoring (le) x @ end()',
            {"up", "x"},
        ),
        (
            "topk(3, count by (name, version) (soccer_serving_model_info)) or vector(0)",
            {"soccer_serving_model_info"},
        ),
    ],
)
def test_metric_names_finds_the_metrics_and_nothing_else(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_a_misspelled_metric_is_caught() -> None:
    exported = {"soccer_events_in_total", "soccer_predictions_total"}
    query = "sum(rate(soccer_events_in_totl[5m])) - sum(rate(soccer_predictions_total[5m]))"
    assert metric_names(query) - exported == {"soccer_events_in_totl"}


@pytest.mark.parametrize(
    "expr",
    ["rat(soccer_events_in_total[5m])", '{__name__="soccer_ready"}', "sum(soccer_ready"],
)
def test_what_cannot_be_checked_is_refused(expr: str) -> None:
    with pytest.raises(ValueError):
        metric_names(expr)


# --- Against a real worker ---------------------------------------------------------------


def exported_names(exposition: str) -> set[str]:
    """The series names a scrape of this exposition can have, from its ``# TYPE`` lines
    (and its samples, which add ``_created``)."""
    names: set[str] = set()
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
        "summary": ("", "_sum", "_count"),
    }
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            if kind == "counter":
                name = name.removesuffix("_total")
            names |= {name + suffix for suffix in suffixes.get(kind, ("",))}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


@pytest.fixture(scope="module")
def rules_settings(
    stack: RunningStack, trained_registry: TrainedRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    settings = module_settings(stack, trained_registry, tmp_path_factory.mktemp("operator-rules"))
    with topics_deleted_after(settings):
        yield settings


@pytest.fixture(scope="module")
def rules_worker(
    rules_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    log = tmp_path_factory.mktemp("operator-rules-log") / "worker.log"
    with ready_worker(rules_settings, log) as process:
        yield process


@pytest.fixture(scope="module")
def worker_metric_names(rules_worker: WorkerProcess) -> set[str]:
    status, body = http_get(f"{rules_worker.base_url}/metrics")
    assert status == 200
    names = exported_names(body.decode())
    # Not vacuous: the worker's own metrics, in their exposed forms.
    assert {
        "soccer_events_in_total",
        "soccer_batch_size_bucket",
        "soccer_batch_size_count",
        "soccer_serving_model_info",
        "soccer_consumer_lag",
        SUMMED_SCORE,
    } <= names
    return names


def unknown_names(queries: dict[str, str], exported: set[str]) -> dict[str, list[str]]:
    """Each metric name no worker exports, with where it is used."""
    unknown: dict[str, list[str]] = {}
    for where, expr in queries.items():
        for name in sorted(metric_names(expr) - exported):
            unknown.setdefault(name, []).append(where)
    return unknown


@pytest.mark.integration
@pytest.mark.parametrize("source", ["alerts.yml", "dashboard"])
def test_every_queried_metric_is_one_the_worker_exports(
    source: str, worker_metric_names: set[str]
) -> None:
    queries = alert_queries() if source == "alerts.yml" else dashboard_queries()
    assert all(metric_names(expr) for expr in queries.values()), "a query names no metric"
    unknown = unknown_names(queries, worker_metric_names)
    assert unknown == {}, f"metrics the worker does not export: {sorted(unknown)}\n" + "\n".join(
        f"  {name}: {', '.join(places)}" for name, places in sorted(unknown.items())
    )


# --- /metrics itself -----------------------------------------------------------------------


def samples(exposition: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Each sample's labels and value, by sample name."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


@pytest.mark.integration
async def test_metrics_pass_promtool_once_the_worker_has_scored_matches(
    rules_settings: Settings, rules_worker: WorkerProcess, trained_registry: TrainedRegistry
) -> None:
    results = real_results(trained_registry, 6)
    await play(rules_settings, results)
    # Every phase of every match: a result scores all its forecasts at once, so the board
    # is then complete and what /metrics and /model report no longer moves.
    wait_for(
        "every phase scored",
        lambda: all(scored(rules_worker, "1", phase) == len(results) for phase in PHASES),
    )
    status, body = http_get(f"{rules_worker.base_url}/metrics")
    assert status == 200
    exposition = body.decode()

    checked = run_promtool("check", "metrics", stdin=exposition)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    found = samples(exposition)
    assert {SCORED_FORECASTS, SUMMED_SCORE, *CALIBRATION} <= set(found)
    # A summed score over its forecasts is the mean /model serves.
    served = served_scores(model_body(rules_worker))
    forecasts = {(labels["version"], labels["phase"]): n for labels, n in found[SCORED_FORECASTS]}
    assert forecasts == {key: served[key]["n"] for key in served}
    summed = {
        (labels["version"], labels["phase"], labels["score"]): value
        for labels, value in found[SUMMED_SCORE]
    }
    assert set(summed) == {(*key, score) for key in served for score in SCORES}
    for (version, phase, score), total in summed.items():
        mean = served[(version, phase)][score]
        assert total / forecasts[(version, phase)] == pytest.approx(mean, rel=1e-9)
    # Worked by hand: each forecast puts its three probabilities in the bins; they add up
    # to 1, and exactly one of the three outcomes happens.
    scored_in_all_phases = len(PHASES) * len(results)
    bins, predicted, observed = (
        sum(value for labels, value in found[name] if labels["version"] == "1")
        for name in CALIBRATION
    )
    assert bins == len(OUTCOMES) * scored_in_all_phases
    assert predicted == pytest.approx(scored_in_all_phases, abs=1e-6)
    assert observed == scored_in_all_phases
