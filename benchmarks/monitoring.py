"""Monitoring benchmark: monitoring runs over an hour of captured traffic (1M, 3M, 10M records).

In a workspace (a temporary one unless ``--workspace`` names a folder to reuse), a logistic
regression is trained on generated Telco-schema rows and registered, and endpoint ``bench`` serves
its champion. The hour before now is then filled with captured records written the way the
endpoint writes them (one JSON record per request, the model's own answer, unique inference ids),
from rows of the ``price_rise`` drift scenario. ``run_monitoring`` runs twice over that hour, each
time in a fresh process with the Evidently report on: first building the drift reference profile,
then with it cached. Each run reports its time, its process's peak RSS, the largest child
process's peak RSS, the peak of the memory all its processes held together (the sum of their
Pss, sampled every 50 ms: a page a forked worker shares with its parent counts once) and where
the time went (reading and parsing is summed over the worker processes). Targets: 8 s per
million records, the processes' memory together under 1.5 GB at every size. Run it as a
script: ``python benchmarks/monitoring.py --help`` (``--records 1000000 3000000 10000000``
measures each size in turn).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from rich.console import Console
from rich.table import Table

from driftloop.config import Settings, load_settings

ENDPOINT, VARIANT, MODEL_NAME = "bench", "AllTraffic", "churn-model"
JSON = "application/json"
TRAIN_ROWS, TRAIN_SEED, TRAFFIC_SEED = 5000, 7, 8
WINDOW = timedelta(hours=1)
CHUNK_ROWS = 20_000  # rows typed, scored and written per step while capturing
SECONDS_PER_MILLION = 8.0
TARGET_RSS_MB = 1536.0
RUNS = ("first (builds profile)", "second (profile cached)")
Result = dict[str, Any]
console = Console(width=None if sys.stdout.isatty() else 140)


def bench_settings(home: Path) -> Settings:
    """Settings of the workspace at ``home``, training only the logistic regression."""
    settings = load_settings(home=home)
    training = settings.training.model_copy(update={"candidates": ["logistic_regression"]})
    return settings.model_copy(update={"training": training})


# --- the workspace: a registered model and an endpoint --------------------------------------


def _champion(settings: Settings) -> int | None:
    from driftloop.backends.local.registry import MlflowRegistry

    if not settings.workspace.mlflow_db.is_file():
        return None
    found = MlflowRegistry(settings.workspace).get_by_alias(MODEL_NAME, "champion")
    return found.version if found else None


def prepare(settings: Settings) -> int:
    """Train and register a model unless the workspace has a champion; save the endpoint.

    Returns the champion's version number.
    """
    from driftloop.backends.catalog import Backends
    from driftloop.data.generator import generate
    from driftloop.data.preprocess import preprocess
    from driftloop.flows import train_and_register
    from driftloop.serving.endpoint_config import EndpointConfig, Variant

    ws = settings.workspace.ensure()
    if _champion(settings) is None:
        csv = ws.data / "generated.csv"
        csv.parent.mkdir(parents=True, exist_ok=True)
        generate(TRAIN_ROWS, TRAIN_SEED).to_csv(csv, index=False)
        preprocess(csv, ws.prepared, settings.data, Backends.from_settings(settings).snapshots)
        train_and_register(settings)
    version = _champion(settings)
    if version is None:
        raise SystemExit(f"training registered no champion of {MODEL_NAME} (the gate refused it)")
    variants = (Variant(name=VARIANT, model="champion"),)
    config = EndpointConfig(name=ENDPOINT, model_name=MODEL_NAME, variants=variants)
    Backends.from_settings(settings).endpoints.save(config)
    return version


def drop_profile(settings: Settings) -> None:
    """Delete the champion's cached drift profile, so the next run builds it."""
    from driftloop.monitoring.target import PROFILE_FILE, resolve_target

    target = resolve_target(settings, ENDPOINT)
    (target.baseline.constraints_path.parent / PROFILE_FILE).unlink(missing_ok=True)


# --- captured traffic ------------------------------------------------------------------------


def client_rows(rows: int) -> pd.DataFrame:
    """Request rows as a client sends them: features only, TotalCharges a number or None."""
    from driftloop.data.generator import generate

    frame = generate(rows, TRAFFIC_SEED, scenario="price_rise").drop(
        columns=["customerID", "Churn"]
    )
    total = pd.to_numeric(frame["TotalCharges"], errors="coerce")
    frame["TotalCharges"] = total.astype(object).where(total.notna(), None)
    return frame


def _response(probability: float, label: str, version: str) -> bytes:
    """The endpoint's JSON answer to a one-row request (what ``codecs.encode`` writes)."""
    predictions = [{"probability": probability, "label": label}]
    return orjson.dumps({"predictions": predictions, "model_version": version, "variant": VARIANT})


class TrafficWriter:
    """Scores request rows with the served model and appends their capture lines."""

    def __init__(self, settings: Settings, version: int, total: int, since: datetime) -> None:
        from driftloop.backends.local.registry import MlflowRegistry
        from driftloop.capture.writer import CaptureWriter
        from driftloop.data.codecs import RowReader
        from driftloop.serving.models import load_registered

        ws = settings.workspace
        self.model = load_registered(MlflowRegistry(ws), MODEL_NAME, version)
        self.reader = RowReader(self.model.spec)
        self.writer = CaptureWriter(ws.capture, ENDPOINT)
        self.total, self.since = total, since

    def when(self, index: int) -> datetime:
        """Record ``index``'s time: records spread evenly over the window, in order."""
        return self.since + timedelta(seconds=index * WINDOW.total_seconds() // self.total)

    def write(self, rows: list[dict[str, Any]], first: int) -> None:
        from driftloop.capture.writer import capture_record, new_event_id

        model = self.model
        probabilities = model.predictor.predict_proba(self.reader.read(None, rows)).tolist()
        for index, (row, probability) in enumerate(zip(rows, probabilities, strict=True), first):
            label = model.spec.label(probability >= model.threshold)
            when = self.when(index)
            line = capture_record(
                request=orjson.dumps(row),
                request_type=JSON,
                response=_response(probability, label, model.version),
                response_type=JSON,
                event_id=new_event_id(),
                inference_id=f"bench-{index:08d}",
                when=when,
            )
            self.writer.write(VARIANT, line, when)

    def close(self) -> None:
        self.writer.close()


def write_traffic(settings: Settings, version: int, records: int, since: datetime) -> Result:
    """Replace the endpoint's capture with ``records`` records in ``[since, since + WINDOW)``."""
    shutil.rmtree(settings.workspace.capture / ENDPOINT, ignore_errors=True)
    started = time.perf_counter()
    frame = client_rows(records)
    generated = time.perf_counter()
    traffic = TrafficWriter(settings, version, records, since)
    try:
        for first in range(0, records, CHUNK_ROWS):
            chunk = frame.iloc[first : first + CHUNK_ROWS].to_dict(orient="records")
            traffic.write(chunk, first)
    finally:
        traffic.close()
    files = list((settings.workspace.capture / ENDPOINT).rglob("*.jsonl"))
    return {
        "generate_seconds": generated - started,
        "write_seconds": time.perf_counter() - generated,
        "files": len(files),
        "mb": sum(path.stat().st_size for path in files) / 2**20,
    }


# --- one monitoring run, in its own process --------------------------------------------------


def run_once(home: Path, since: datetime, until: datetime, workers: int | None) -> Result:
    """One timed ``run_monitoring`` with the report on; this process's peak RSS, its largest
    worker's (a forked worker's peak is counted in ``RUSAGE_CHILDREN``), and the peak of the
    memory they held together, sampled."""
    from driftloop.monitoring.job import run_monitoring

    settings = bench_settings(home)
    with TreeMemory() as memory:
        started = time.perf_counter()
        run = run_monitoring(settings, ENDPOINT, since, until, report=True, workers=workers)
        seconds = time.perf_counter() - started
    summary = run.summary()
    steps = dict(run.steps)
    parts = steps.pop("parts", 1.0)
    wall = seconds - sum(v for k, v in steps.items() if k not in _IN_PARTS)
    steps["other (target, profile, writing)"] = max(0.0, wall - _part_wall(steps, parts))
    peak = _peak_rss_mb()
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "steps": steps,
        "peak_rss_mb": peak,
        "worker_peak_rss_mb": worker,
        "total_mb": memory.peak_mb,
        "parts": parts,
        **{key: summary[key] for key in ("records", "rows", "problems", "violations", "status")},
        **{key: summary[key] for key in ("dataset_drift", "drift_share", "drifted_columns")},
        "report_rows": (summary["quality"] or {}).get("report_rows"),
        "folder": summary["folder"],
    }


class TreeMemory:
    """The peak, sampled every 50 ms, of the memory this process and its children hold
    together: the sum of their proportional set sizes (Linux's Pss), which counts a page
    shared by a forked worker and its parent once, where summing their RSS counts it twice."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="tree-memory", daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, sum(map(_pss_mb, _tree(os.getpid()))))
            if self._stop.wait(0.05):
                return


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux; just ``pid`` elsewhere)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in children.read_text().split()]
            except OSError:  # the task ended
                continue
    return found


def _pss_mb(pid: int) -> float:
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:  # ended, or not Linux: its RSS is in the table's other columns
        return 0.0
    return sum(int(line.split()[1]) for line in lines if line.startswith("Pss:")) / 1024


def _peak_rss_mb() -> float:
    """This process's peak RSS since it started: Linux's VmHWM. ``ru_maxrss`` is not that: it
    keeps, across exec, the RSS of the parent this process was forked from (the benchmark's,
    holding the generated rows)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_IN_PARTS = ("read and parse", "statistics", "constraints", "quality", "report sample")


def _part_wall(steps: dict[str, float], parts: float) -> float:
    """Wall time of the chunked pass: its steps' seconds summed over parts, spread over the
    cores that ran them (an estimate when parts ran in parallel)."""
    busy = sum(steps.get(k, 0.0) for k in _IN_PARTS)
    return busy / min(parts, float(_cores()))


def _cores() -> int:
    from driftloop.capture.parallel import workers_for

    return workers_for(None)


def measure_run(home: Path, since: datetime, until: datetime, workers: int | None) -> Result:
    """``run_once`` in a fresh process (imports, caches and peak RSS of its own)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--workspace", str(home)]
        command += ["--run-window", since.isoformat(), until.isoformat(), "--out", str(out)]
        if workers is not None:
            command += ["--workers", str(workers)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"the monitoring run failed:\n{done.stderr}")
        result: Result = json.loads(out.read_text())
    result["process_seconds"] = time.perf_counter() - started
    return result


# --- report ----------------------------------------------------------------------------------


def target_seconds(records: int) -> float:
    return SECONDS_PER_MILLION * max(records, 1_000_000) / 1_000_000


def _passed(run: Result) -> bool:
    held = run["total_mb"]
    return bool(run["seconds"] <= target_seconds(run["records"]) and held < TARGET_RSS_MB)


def _verdict(run: Result) -> str:
    return "[green]PASS[/]" if _passed(run) else "[red]FAIL[/]"


def results_table(runs: list[Result], names: list[str]) -> Table:
    table = Table(title="Monitoring run over one hour of captured traffic (Evidently report on)")
    headers = (
        "run", "records", "rows", "run s", "process s", "peak RSS MB", "worker RSS MB",
        "all processes MB (Pss)", "problems", "drifted", "drifted columns", "target", "verdict",
    )  # fmt: skip
    for header in headers:
        table.add_column(
            header, justify="left" if header in ("run", "drifted columns") else "right"
        )
    for name, run in zip(names, runs, strict=True):
        table.add_row(
            name,
            f"{run['records']:,}",
            f"{run['rows']:,}",
            f"{run['seconds']:.2f}",
            f"{run['process_seconds']:.2f}",
            f"{run['peak_rss_mb']:,.0f}",
            f"{run['worker_peak_rss_mb']:,.0f}",
            f"{run['total_mb']:,.0f}",
            f"{run['problems']:,}",
            f"{len(run['drifted_columns'])}",
            ", ".join(run["drifted_columns"]) or "-",
            f"<= {target_seconds(run['records']):g} s, < {TARGET_RSS_MB:,.0f} MB",
            _verdict(run),
        )
    return table


def steps_table(runs: list[Result], names: list[str]) -> Table:
    title = "Where a run's time goes (seconds; the chunked steps summed over worker processes)"
    table = Table(title=title)
    table.add_column("step")
    for name in names:
        table.add_column(name, justify="right")
    names = list(dict.fromkeys(name for run in runs for name in run["steps"]))
    for name in names:
        table.add_row(name, *(f"{run['steps'].get(name, 0.0):.2f}" for run in runs))
    table.add_section()
    table.add_row("run_monitoring", *(f"{run['seconds']:.2f}" for run in runs))
    return table


# --- entry points ----------------------------------------------------------------------------


@contextmanager
def workspace(folder: Path | None) -> Iterator[Path]:
    """``folder`` (created if missing), or a temporary folder removed afterwards."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as temporary:
        yield Path(temporary)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--records", type=int, nargs="+", default=[1_000_000], help="captured records (1M)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="processes reading the capture (default: run_monitoring's, one per core)",
    )
    parser.add_argument("--workspace", type=Path, help="reuse this workspace folder")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--run-window", nargs=2, help=argparse.SUPPRESS)  # one measured run
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _window(now: datetime) -> tuple[datetime, datetime]:
    until = now.astimezone(UTC).replace(microsecond=0)
    return until - WINDOW, until


def benchmark(home: Path, records: int, workers: int | None) -> Result:
    settings = bench_settings(home)
    console.print(f"[dim]workspace {home}: training and registering the model ...[/]")
    version = prepare(settings)
    since, until = _window(datetime.now(UTC))
    console.print(f"[dim]writing {records:,} captured records ...[/]")
    traffic = write_traffic(settings, version, records, since)
    console.print(
        f"generated the rows in {traffic['generate_seconds']:.1f} s, wrote {traffic['mb']:,.0f} "
        f"MB of capture ({traffic['files']} files) in {traffic['write_seconds']:.1f} s "
        "(probabilities from the registered model; not part of the target)"
    )
    drop_profile(settings)
    runs = []
    for name in RUNS:
        console.print(f"[dim]monitoring run, {name} ...[/]")
        runs.append(measure_run(home, since, until, workers))
    passed = all(_passed(run) for run in runs)
    window = {"since": since.isoformat(), "until": until.isoformat()}
    return {"records": records, "model_version": version, "window": window, "traffic": traffic} | {
        "runs": dict(zip(RUNS, runs, strict=True)),
        "target_seconds": target_seconds(records),
        "target_rss_mb": TARGET_RSS_MB,
        "passed": passed,
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.run_window:
        since, until = (datetime.fromisoformat(value) for value in args.run_window)
        args.out.write_text(json.dumps(run_once(args.workspace, since, until, args.workers)))
        return 0
    results, runs, names = [], [], []
    for records in args.records:
        with workspace(args.workspace) as home:
            result = benchmark(home, records, args.workers)
        results.append(result)
        for name, run in result["runs"].items():
            runs.append(run)
            names.append(f"{records / 1e6:g}M {name}")
        console.print(results_table(runs, names))
        console.print(steps_table(runs, names))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
