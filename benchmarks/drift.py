"""Drift benchmark: Evidently 0.7's ``DataDriftPreset`` against driftloop's ``detect_drift``.

Per size, reference and current windows of Telco-schema rows come from the generator (current
with a drift scenario). Each tool runs in its own process (one after the other, so they never
compete for CPU) on the same windows: Evidently's time to wrap the frames as Datasets and its
report run; driftloop's profile build (once per model version) and its check with the profile
precomputed. Peak memory is the process's peak RSS above its RSS before the step. Run it as a
script: ``python benchmarks/drift.py --help``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

TASKS_SCRIPT = Path(__file__).with_name("_drift_tasks.py")
TASKS = ("evidently", "driftloop")
SCORE_TOLERANCE = 1e-6
console = Console(width=None if sys.stdout.isatty() else 180)


def _measure(task: str, rows: int, scenario: str) -> dict[str, Any]:
    command = [sys.executable, str(TASKS_SCRIPT), task, str(rows), scenario]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{task} at {rows:,} rows failed:\n{done.stderr}")
    return json.loads(done.stdout)


def agree(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Same dataset verdict, and per column the same method and verdict, scores within 1e-6."""
    columns = first["columns"]
    if (
        first["dataset_drift"] != second["dataset_drift"]
        or columns.keys() != second["columns"].keys()
    ):
        return False
    return all(_same(columns[name], second["columns"][name]) for name in columns)


def _same(first: list[Any], second: list[Any]) -> bool:
    (method, score, drifted), (other_method, other_score, other_drifted) = first, second
    same_verdict = method == other_method and drifted == other_drifted
    return same_verdict and abs(score - other_score) <= SCORE_TOLERANCE


def _row(rows: int, results: dict[str, dict[str, Any]]) -> list[str]:
    evidently, driftloop = results["evidently"], results["driftloop"]
    run, detect = evidently["seconds"]["run"], driftloop["seconds"]["detect"]
    drifted = sum(v[2] for v in driftloop["columns"].values())
    return [
        f"{rows:,}",
        f"{evidently['seconds']['wrap']:.2f}",
        f"{evidently['peak_mb']['wrap']:,.1f}",
        f"{run:.2f}",
        f"{evidently['peak_mb']['run']:,.1f}",
        f"{driftloop['seconds']['build']:.2f}",
        f"{driftloop['peak_mb']['build']:,.1f}",
        f"{driftloop['profile_mb']:.1f}",
        f"{detect:.3f}",
        f"{driftloop['peak_mb']['detect']:,.1f}",
        f"{run / detect:.0f}x",
        f"{drifted}/{len(driftloop['columns'])}",
        "yes" if agree(evidently, driftloop) else "[red]NO[/]",
    ]


def _table(scenario: str, measured: dict[int, dict[str, dict[str, Any]]]) -> Table:
    table = Table(title=f"Drift: reference (none) vs current ({scenario}), equal sizes")
    headers = (
        "rows", "Evidently wrap s", "wrap peak MB", "Evidently run s", "run peak MB",
        "profile build s", "build peak MB", "profile file MB", "detect s", "detect peak MB",
        "run / detect", "drifted", "verdicts agree",
    )  # fmt: skip
    for header in headers:
        table.add_column(header, justify="right")
    for rows, results in measured.items():
        table.add_row(*_row(rows, results))
    return table


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated rows per window (10000,100000,1000000)",
    )
    parser.add_argument("--scenario", default="price_rise", help="drift of the current window")
    parser.add_argument("--json", type=Path, help="also write the raw results to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    measured: dict[int, dict[str, dict[str, Any]]] = {}
    for rows in sizes:
        measured[rows] = {}
        for task in TASKS:
            console.print(f"[dim]{task}: {rows:,} rows ...[/]")
            measured[rows][task] = _measure(task, rows, args.scenario)
    console.print(_table(args.scenario, measured))
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in measured.items()}, indent=2))
    return 0 if all(agree(r["evidently"], r["driftloop"]) for r in measured.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
