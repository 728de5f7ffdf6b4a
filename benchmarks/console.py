"""Console benchmark: page times over a workspace with a long history.

A workspace (temporary unless ``--workspace`` names a folder to reuse) gets a trained and
registered model behind endpoint ``churn`` (two variants), ``--records`` captured records
(default 1,000,000) spread over the last day, 10-second traffic datapoints for that day,
``--runs`` monitoring runs (default 1,000; their summaries as events and their folders),
and events up to ``--events`` (default 100,000) in all, with alarm changes and deployment
steps among them. A real ``driftloop console`` process then serves it: once ``/ping`` says it is
ready, each page is fetched once (the first load), then ``--repeat`` rounds go over every page;
the first, median and worst times are printed, with the worst against the 300 ms the console
aims at. This is a measurement, not a test.
Run it as a script: ``python benchmarks/console.py --help``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from driftloop.backends.catalog import Backends
from driftloop.capture.writer import capture_record
from driftloop.config import Settings, load_settings
from driftloop.events.base import EventEntry
from driftloop.metrics.base import Datapoint
from driftloop.serving.endpoint_config import EndpointConfig, Variant

ENDPOINT, VARIANTS = "churn", ("AllTraffic", "Candidate")
FEATURES = (
    "tenure",
    "MonthlyCharges",
    "TotalCharges",
    "Contract",
    "InternetService",
    "PaymentMethod",
    "gender",
    "Partner",
    "Dependents",
    "PhoneService",
)
PAGES = (
    "/",
    "/endpoints/churn",
    "/endpoints/churn?range=1d",
    "/models",
    "/models/1",
    "/monitoring",
    "/alarms",
    "/alarms?type=Deployment+Step",
    "/pipelines",
)
BUDGET_MS = 300.0
console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, help="Folder to build in (kept); default temp.")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=15, help="Rounds over every page.")
    parser.add_argument(
        "--live", type=float, default=20.0, help="Events appended per second while measuring."
    )
    args = parser.parse_args()
    root = args.workspace or Path(tempfile.mkdtemp(prefix="driftloop-console-bench-"))
    try:
        settings = _settings(root)
        if not (root / ".built").is_file():
            _build(settings, root, args)
            (root / ".built").write_text("ok")
        _measure(root, args.repeat, args)
    finally:
        if args.workspace is None:
            shutil.rmtree(root, ignore_errors=True)


def _settings(root: Path) -> Settings:
    root.mkdir(parents=True, exist_ok=True)
    (root / "driftloop.toml").write_text('[training]\ncandidates = ["logistic_regression"]\n')
    return load_settings(root / "driftloop.toml", home=root / ".driftloop")


def _timed(what: str) -> Any:
    class Step:
        def __enter__(self) -> None:
            self.started = time.perf_counter()
            console.print(f"{what} ...", highlight=False)

        def __exit__(self, *_: object) -> None:
            console.print(f"  {time.perf_counter() - self.started:.1f} s", highlight=False)

    return Step()


def _build(settings: Settings, root: Path, args: argparse.Namespace) -> None:
    from driftloop.data.generator import generate
    from driftloop.data.preprocess import preprocess
    from driftloop.flows import train_and_register

    stores = Backends.from_settings(settings)
    with _timed("training and registering v1"):
        generate(3000, seed=5).to_csv(root / "train.csv", index=False)
        preprocess(root / "train.csv", settings.workspace.prepared, settings.data, stores.snapshots)
        train_and_register(settings)
        variants = (
            Variant(name=VARIANTS[0], model="champion", weight=9),
            Variant(name=VARIANTS[1], model="1", weight=1),
        )
        stores.endpoints.save(
            EndpointConfig(name=ENDPOINT, model_name="churn-model", variants=variants)
        )
    now = datetime.now(UTC)
    with _timed(f"writing {args.records:,} captured records"):
        _capture(stores, now, args.records)
    with _timed("writing a day of 10-second traffic datapoints"):
        _datapoints(stores, now)
    with _timed(f"writing {args.runs:,} monitoring runs and {args.events:,} events"):
        _events(settings, stores, now, args.runs, args.events)


def _capture(stores: Backends, now: datetime, total: int) -> None:
    hours = 24
    per_hour = total // hours
    body = b'{"tenure": 5, "MonthlyCharges": 70.5, "Contract": "Month-to-month"}'
    answer = b'{"predictions": [{"probability": 0.41, "label": "No"}]}'
    for hour in range(hours):
        when = now - timedelta(hours=hours - hour)
        variant = VARIANTS[hour % 2]
        lines = [
            capture_record(
                request=body,
                request_type="application/json",
                response=answer,
                response_type="application/json",
                event_id=f"{hour}-{i}",
                inference_id=None,
                when=when,
            )
            for i in range(per_hour)
        ]
        for start in range(0, len(lines), 50_000):
            stores.capture.write(ENDPOINT, variant, lines[start : start + 50_000], when)


def _datapoints(stores: Backends, now: datetime) -> None:
    end = int(now.timestamp()) // 10 * 10
    points = []
    for bucket in range(end - 86400, end, 10):
        for variant in VARIANTS:
            dims = {"EndpointName": ENDPOINT, "VariantName": variant}
            count = 12.0 if variant == VARIANTS[0] else 1.0
            latency = {"1900": count * 0.5, "2400": count * 0.49, "9800": count * 0.01}
            points.append(
                Datapoint("AWS/SageMaker", "Invocations", dims, bucket, "None", count, count, 1, 1)
            )
            points.append(
                Datapoint(
                    "AWS/SageMaker",
                    "ModelLatency",
                    dims,
                    bucket,
                    "Microseconds",
                    2200 * count,
                    count,
                    1900,
                    9800,
                    latency,
                )
            )
            points.append(
                Datapoint(
                    "AWS/SageMaker", "Invocation4XXErrors", dims, bucket, "None", 0, count, 0, 0
                )
            )
    for start in range(0, len(points), 20_000):
        stores.metrics.put_metric_data(points[start : start + 20_000])


def _events(settings: Settings, stores: Backends, now: datetime, runs: int, total: int) -> None:
    entries: list[EventEntry] = []
    folder = settings.workspace.monitoring / ENDPOINT
    for index in range(runs):
        name = f"2026{index:010d}Z"
        run = folder / name
        run.mkdir(parents=True, exist_ok=True)
        (run / "constraint_violations.json").write_text('{"violations": []}')
        drifted = index % 50 == 49
        summary = {
            "endpoint": ENDPOINT,
            "variant": VARIANTS[0],
            "model_version": 1,
            "status": "CompletedWithViolations" if drifted else "Completed",
            "window": {"since": "", "until": ""},
            "records": 1000,
            "rows": 1000,
            "problems": 0,
            "violations": int(drifted),
            "dataset_drift": drifted,
            "drift_share": 0.2 if drifted else 0.0,
            "drifted_columns": ["MonthlyCharges"] if drifted else [],
            "quality": {
                "baseline_drift": {
                    f: 0.02 + (0.15 if drifted and f == "MonthlyCharges" else 0) for f in FEATURES
                },
                "model_quality": {"roc_auc": 0.82 - 0.05 * drifted},
                "estimated_quality": {"roc_auc": 0.8},
            },
            "seconds": 1.0,
            "folder": str(run),
            "results": f"file://{run}",
        }
        entries.append(EventEntry("driftloop.monitoring", "Monitoring Run Completed", summary))
    kinds = [
        (
            "aws.cloudwatch",
            "CloudWatch Alarm State Change",
            {
                "alarmName": "churn-data-drift",
                "state": {"value": "ALARM"},
                "previousState": {"value": "OK"},
            },
        ),
        (
            "driftloop.deploy",
            "Deployment Step",
            {
                "endpoint": ENDPOINT,
                "strategy": "canary",
                "step": "canary",
                "version": 1,
                "weights": {},
                "models": {},
                "revision": 1,
                "shadow": None,
            },
        ),
        (
            "driftloop.deploy",
            "Deployment Step",
            {
                "endpoint": ENDPOINT,
                "strategy": "canary",
                "step": "completed",
                "version": 1,
                "weights": {},
                "models": {},
                "revision": 2,
                "shadow": None,
            },
        ),
        ("bench.traffic", "Traffic Note", {"endpoint": ENDPOINT, "note": "steady"}),
    ]
    while len(entries) < total:
        entries.append(EventEntry(*kinds[len(entries) % len(kinds)]))
    for start in range(0, len(entries), 5_000):
        stores.events.put_events(entries[start : start + 5_000])


def _measure(root: Path, repeat: int, args: argparse.Namespace) -> None:
    from driftloop.demo.endpoint import EndpointProcess, free_port

    port = free_port()
    env = {
        **os.environ,
        "DRIFTLOOP_HOME": str(root / ".driftloop"),
        "DRIFTLOOP_CONFIG": str(root / "driftloop.toml"),
    }
    log = root / "console.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "driftloop.console", "--port", str(port)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = EndpointProcess(process, port, log)
    try:
        started = time.perf_counter()
        server.wait_ready(120)
        ready_s = time.perf_counter() - started
        first = {page: _fetch(server.url + page) for page in PAGES}  # right after readiness
        times: dict[str, list[float]] = {page: [] for page in PAGES}
        with _appending(_settings(root), args.live):  # the loop goes on meanwhile
            for _ in range(repeat):  # rounds over every page, as a person clicking around
                for page in PAGES:
                    times[page].append(_fetch(server.url + page)[0])
        table = Table(
            "page",
            "status",
            "first (ms)",
            "median (ms)",
            "worst (ms)",
            "worst / 300 ms",
            title=f"console pages: {args.records:,} captured records, "
            f"{args.events:,} events, {args.runs:,} monitoring runs; "
            f"ready {ready_s:.1f} s after start; {args.live:g} new events a second",
        )
        for page in PAGES:
            worst = max(first[page][0], *times[page])
            table.add_row(
                page,
                str(first[page][1]),
                f"{first[page][0]:.0f}",
                f"{statistics.median(times[page]):.0f}",
                f"{worst:.0f}",
                f"{worst / BUDGET_MS:.2f}",
            )
        console.print(table)
    finally:
        server.stop()


@contextmanager
def _appending(settings: Settings, per_s: float) -> Iterator[None]:
    """Events appended to the stream at ``per_s`` a second, in a thread, while inside."""
    stop = threading.Event()
    bus = Backends.from_settings(settings).events

    def append() -> None:
        while per_s > 0 and not stop.wait(1.0):
            note = {"endpoint": ENDPOINT, "note": "live"}
            bus.put_events([EventEntry("bench.traffic", "Traffic Note", note)] * int(per_s))

    thread = threading.Thread(target=append, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _fetch(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as answer:
        answer.read()
        status = answer.status
    return (time.perf_counter() - started) * 1000, status


if __name__ == "__main__":
    main()
