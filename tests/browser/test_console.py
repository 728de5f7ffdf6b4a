"""The console in a real browser over a workspace made by a small closed-loop run: every page,
live updates, approval with the button, broken and empty states, and access off loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftloop.alarms.definition import AlarmDefinition
from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.data.generator import generate
from driftloop.demo import DemoReport
from driftloop.demo.endpoint import EndpointProcess, free_port
from driftloop.serving.endpoint_config import Fault
from tests.browser.conftest import POLL_S, Tab, start_console
from tests.servers import post
from tests.workspaces import service_env

pytestmark = pytest.mark.slow
LIVE_S = 4 * POLL_S + 4  # a poll, the event snapshot's refresh, and slack for a busy machine
PAGES = {
    "/": [
        "Overview",
        "churn",
        "health",
        "champion",
        "challenger",
        "v2",
        "requests, last hour",
        "p99 latency",
        "open alarms",
        "churn-data-drift",
        "last monitoring",
        "deployment",
    ],
    "/endpoints/churn": [
        "Endpoint churn",
        "Requests per",
        "Model latency",
        "Errors per",
        "AllTraffic",
        "drift: MonthlyCharges",
        "deploy v2",
        "Endpoint config",
        "weight",
        "capture on",
    ],
    "/models": ["Versions", "v1", "v2", "champion", "Approved"],
    "/models/2": ["Metrics", "roc_auc", "Gate report", "Lineage", "pipeline run", "snapshot"],
    "/monitoring": [
        "Drift per feature",
        "MonthlyCharges",
        "labelled vs estimated",
        "CompletedWithViolations",
        "violations",
    ],
    "/alarms": [
        "churn-data-drift",
        "ALARM",
        "Alarm history",
        "Events",
        "detail-type",
        "Notifications",
        "All deliveries",
        "Retries and dead letters",
    ],
    "/pipelines": [
        "Deployments",
        "rolled_back",
        "Pipeline runs",
        "ingest",
        "cache hits",
        "completed",
    ],
}
CHARTS = {"/": "svg.spark", "/endpoints/churn": "svg.chart", "/monitoring": "svg.chart"}


def _url(server: EndpointProcess, path: str) -> str:
    return f"{server.url}{path}"


def _text(tab: Tab) -> str:
    return str(tab.page.inner_text("main"))


def _wait_text(tab: Tab, wanted: str, timeout_s: float = LIVE_S) -> None:
    """``wanted`` appears in the page without a reload (the live update)."""
    deadline = time.monotonic() + timeout_s
    while wanted not in _text(tab):
        if time.monotonic() > deadline:
            raise AssertionError(f"'{wanted}' did not appear within {timeout_s:g} s")
        tab.page.wait_for_timeout(200)


@pytest.mark.parametrize("path", list(PAGES))
def test_each_page_loads_without_errors_and_shows_the_loop(
    console: EndpointProcess, tab: Tab, shots: Path, path: str
) -> None:
    answer = tab.page.goto(_url(console, path))
    assert answer is not None and answer.status == 200
    text = _text(tab).lower()  # labels are shown in capitals by the stylesheet
    for wanted in PAGES[path]:
        assert wanted.lower() in text, (path, wanted)
    assert "traceback" not in text
    if path in CHARTS:
        assert tab.page.locator(CHARTS[path]).count() >= 2, path
    name = path.strip("/").replace("/", "-") or "overview"
    tab.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    tab.page.wait_for_timeout(1000 * POLL_S * 2.5)  # live updates, still without errors
    assert tab.errors == []
    assert (_url(console, path), True) in tab.requests  # the page re-fetched itself
    offsite = [
        url
        for url, _ in tab.requests
        if not url.startswith((console.url + "/", "data:"))  # data: is inline
    ]
    assert offsite == []  # everything it needs is served by the console: it works offline


def test_the_training_plots_from_mlflow_load(console: EndpointProcess, tab: Tab) -> None:
    answer = tab.page.goto(_url(console, "/models/1"))
    assert answer is not None and answer.status == 200
    assert "roc curve" in _text(tab).lower()
    images = tab.page.locator(".plots img")
    assert images.count() >= 4
    tab.page.wait_for_function(
        "[...document.querySelectorAll('.plots img')].every(i => i.complete)"
    )
    widths = images.evaluate_all("found => found.map(i => i.naturalWidth)")
    assert all(width > 0 for width in widths), widths
    assert tab.errors == []
    missing = tab.page.goto(_url(console, "/models/1/plots/no_such_plot.png"))
    assert missing is not None and missing.status == 404
    assert "no run artifact" in _text(tab)


def test_a_monitoring_run_page_and_its_report(console: EndpointProcess, tab: Tab) -> None:
    tab.page.goto(_url(console, "/monitoring"))
    tab.page.click("main table a[href^='/monitoring/churn/']")
    text = _text(tab)
    assert "Violations" in text and "Drift" in text and "Model quality" in text
    with tab.page.expect_navigation():
        tab.page.click("text=Open the Evidently report")
    assert tab.page.url.endswith("/report")
    assert tab.errors == [] or all("report" not in e for e in tab.errors)


def test_a_new_event_appears_live(console: EndpointProcess, loop: Settings, tab: Tab) -> None:
    tab.page.goto(_url(console, "/alarms"))
    marker = f"console-check-{time.time_ns()}"
    Backends.from_settings(loop).events.emit("test.console", "Console Check", {"marker": marker})
    _wait_text(tab, marker)
    assert tab.errors == []


def test_an_alarm_turns_to_alarm_live_while_latency_goes_up(
    console: EndpointProcess, loop: Settings, kept: DemoReport, tab: Tab
) -> None:
    stores = Backends.from_settings(loop)
    original = stores.endpoints.get("churn")
    dims = {"EndpointName": "churn", "VariantName": original.variants[0].name}
    stores.alarms.put(_latency_alarm(dims))
    tab.page.goto(_url(console, "/"))
    _wait_text(tab, "churn-data-drift")
    assert "console-latency" not in _text(tab)  # not firing yet
    slow = [v.model_copy(update={"fault": Fault(delay_ms=100)}) for v in original.variants]
    stores.endpoints.save(original.model_copy(update={"variants": tuple(slow)}))
    try:
        assert kept.endpoint_url is not None
        bucket = _slow_period(kept.endpoint_url, stores, dims)
    finally:
        stores.endpoints.save(original)
    stores.alarms.evaluate(datetime.fromtimestamp(bucket + 11, tz=UTC), ["console-latency"])
    assert stores.alarms.get("console-latency").state == "ALARM"
    _wait_text(tab, "console-latency")  # the overview's open alarms, without a reload
    tab.page.goto(_url(console, "/alarms"))
    row = tab.page.locator("tr", has=tab.page.locator("#alarm-console-latency"))
    assert "ALARM" in row.inner_text()
    assert tab.errors == []


def _latency_alarm(dims: dict[str, str]) -> AlarmDefinition:
    return AlarmDefinition.model_validate(
        {
            "AlarmName": "console-latency",
            "Namespace": "AWS/SageMaker",
            "MetricName": "ModelLatency",
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            "Statistic": "Average",
            "Period": 10,
            "EvaluationPeriods": 1,
            "Threshold": 20000,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "ignore",
        }
    )


def _slow_period(url: str, stores: Backends, dims: dict[str, str], timeout_s: float = 90) -> int:
    """Requests to the demo's endpoint until the metric store holds a 10-second period of
    ``dims`` whose average model latency is over 20 ms (the injected delay is live); its
    start."""
    row = generate(1, seed=1).drop(columns=["customerID", "Churn"]).to_dict("records")[0]
    body = json.dumps(row).encode()
    since = int(time.time()) // 10 * 10
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for _ in range(5):
            status, _, _ = post(f"{url}/invocations", body, {"content-type": "application/json"})
            assert status == 200
        found = stores.metrics.get_metric_data("AWS/SageMaker", "ModelLatency", dims, since=since)
        slow = [p.timestamp for p in found if p.sum / max(p.count, 1) > 20_000]
        if slow:
            return slow[0]
    raise AssertionError(f"the endpoint's model latency did not go up in {timeout_s:g} s")


def test_the_event_stream_filters_by_detail_type(console: EndpointProcess, tab: Tab) -> None:
    tab.page.goto(_url(console, "/alarms"))
    tab.page.select_option("select[name=type]", "Deployment Step")
    with tab.page.expect_navigation():
        tab.page.click("form.filters button[type=submit]")
    assert "type=Deployment+Step" in tab.page.url
    kinds = tab.page.locator("#events table tbody tr td:nth-child(3)").all_inner_texts()
    assert kinds and set(kinds) == {"Deployment Step"}
    assert tab.errors == []


def test_unknown_names_in_the_url_are_404_pages(console: EndpointProcess, tab: Tab) -> None:
    for path in ("/endpoints/nope", "/models/99", "/models/x", "/monitoring/churn/none", "/x"):
        answer = tab.page.goto(_url(console, path))
        assert answer is not None and answer.status == 404, path
        assert "Not found" in _text(tab) and "Traceback" not in _text(tab)


def test_a_get_changes_nothing(console: EndpointProcess, loop: Settings) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(_url(console, "/models/1/reject"), timeout=10)
    refused.value.close()  # its socket closes now, not when collected (a ResourceWarning then)
    assert refused.value.code == 405
    assert _approval(loop, 1) == "Approved"


def test_a_corrupt_run_folder_is_a_message_not_an_error(
    console: EndpointProcess, loop: Settings, tab: Tab
) -> None:
    runs = sorted((loop.workspace.monitoring / "churn").iterdir())
    (runs[0] / "drift.json").write_text("{not json")
    (runs[0] / "constraint_violations.json").unlink()
    answer = tab.page.goto(_url(console, f"/monitoring/churn/{runs[0].name}"))
    assert answer is not None and answer.status == 200
    text = _text(tab)
    assert "drift.json is not readable JSON" in text
    assert "constraint_violations.json is missing" in text
    assert tab.errors == []


def test_approve_and_reject_with_the_buttons(
    console: EndpointProcess, loop: Settings, tab: Tab, shots: Path
) -> None:
    tab.page.goto(_url(console, "/models"))
    tab.accept = False  # dismissing the confirmation changes nothing
    tab.page.click("#approve-1")
    tab.page.wait_for_timeout(500)
    assert tab.dialogs and "Approve v1" in tab.dialogs[-1]
    assert "champion" not in _aliases(loop, 1)
    tab.accept = True
    with tab.page.expect_navigation():
        tab.page.click("#approve-1")
    assert "v1 approved and champion" in _text(tab)
    listed = _cli(loop, "models", "list")
    [line] = [row for row in listed.splitlines() if row.replace("│", " ").split()[:1] == ["1"]]
    assert "champion" in line and "Approved" in line, listed
    with tab.page.expect_navigation():
        tab.page.click("#reject-2")
    assert "v2 rejected" in _text(tab)
    assert _approval(loop, 2) == "Rejected"
    tab.page.screenshot(path=str(shots / "models-after-approval.png"), full_page=True)
    assert tab.errors == []


def _approval(settings: Settings, version: int) -> str:
    registry = Backends.from_settings(settings).registry
    return registry.get_version(settings.registry.model_name, version).approval


def _aliases(settings: Settings, version: int) -> tuple[str, ...]:
    registry = Backends.from_settings(settings).registry
    return registry.get_version(settings.registry.model_name, version).aliases


def _cli(settings: Settings, *args: str) -> str:
    root = settings.workspace.root.parent
    env = service_env(root)
    done = subprocess.run(
        [sys.executable, "-m", "driftloop", *args],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def _base_env() -> dict[str, str]:
    import os

    return dict(os.environ)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndpointProcess]:
    """A console over a workspace where nothing has happened yet."""
    root = tmp_path_factory.mktemp("console-fresh")
    (root / "driftloop.toml").write_text("")
    server = start_console(root, root / "console.log")
    try:
        server.wait_ready(60)
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "path", ["/", "/endpoints", "/models", "/monitoring", "/alarms", "/pipelines"]
)
def test_a_fresh_workspace_says_what_to_do(fresh: EndpointProcess, tab: Tab, path: str) -> None:
    answer = tab.page.goto(_url(fresh, path))
    assert answer is not None and answer.status == 200
    text = _text(tab)
    assert "driftloop" in text and "Traceback" not in text
    assert tab.errors == []


def test_an_address_off_loopback_needs_the_api_key(tmp_path: Path) -> None:
    (tmp_path / "driftloop.toml").write_text("")
    env = {**_base_env(), **service_env(tmp_path)}
    env.pop("DRIFTLOOP_SERVING__API_KEY", None)
    command = [sys.executable, "-m", "driftloop.console", "--host", "0.0.0.0"]
    done = subprocess.run(
        [*command, "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "not a loopback address" in done.stderr and "serving.api_key" in done.stderr


def test_with_the_api_key_a_forged_approval_is_refused_and_signing_in_works(
    tmp_path: Path, tab: Tab
) -> None:
    (tmp_path / "driftloop.toml").write_text("")
    server = start_console(
        tmp_path,
        tmp_path / "console.log",
        "--host",
        "0.0.0.0",
        env={"DRIFTLOOP_SERVING__API_KEY": "s3cret"},
    )
    try:
        server.wait_ready(60)
        forged = urllib.request.Request(
            _url(server, "/models/1/approve"), data=b"confirm=yes", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=10)
        refused.value.close()
        assert refused.value.code == 401
        answer = tab.page.goto(_url(server, "/models"))
        assert answer is not None and answer.status == 401
        tab.page.fill("input[name=key]", "wrong")
        tab.page.click("button[type=submit]")
        assert "not the console's API key" in _text(tab)
        tab.page.fill("input[name=key]", "s3cret")
        with tab.page.expect_navigation():
            tab.page.click("button[type=submit]")
        assert tab.page.url.endswith("/models")
        assert "Models" in _text(tab)
    finally:
        server.stop()
