"""Serving benchmark: a constant-answer floor, `mlflow models serve` and `driftloop serve`.

One run, one model version, one machine, 2 workers per server, wrk as the load generator and the
same request bodies for everyone. Servers run one at a time, in alternating rounds, so they never
compete for CPU with each other. Besides driftloop as shipped (with and without capture), rows
``driftloop/<kind>`` serve the same endpoint with another predictor in place of the compiled fast
path: the plain scikit-learn pipeline, or a tree compiler or runtime (see serving_predictors).
Before the HTTP rows it prints an in-process breakdown of one request (serving_breakdown).
Run it as a script: ``python benchmarks/serving.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _report
import _setup
import _wrk
import serving_breakdown
import serving_predictors
from _report import DRIFTLOOP, MLFLOW, Run
from _servers import ServerSpec, post_json, running
from _wrk import WrkResult
from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CSV = REPO.parent / "shared" / "data" / "telco_customer_churn.csv"
WORKERS = 2
BIN = Path(sys.executable).parent
JSON = "application/json"
console = Console(width=None if sys.stdout.isatty() else 120)


@dataclass(frozen=True)
class Case:
    name: str
    payload: str
    connections: int
    threads: int


CASES = (
    Case(_report.LOADED_1, "1 row", 16, 2),
    Case(_report.LOADED_100, "100 rows", 16, 2),
    Case(_report.UNLOADED_1, "1 row", 1, 1),
)


def _driftloop_answer(body: Any) -> list[float]:
    return [p["probability"] for p in body["predictions"]]


def _probabilities(server: str) -> Callable[[Any], list[float]] | None:
    """How to read positive-class probabilities out of a server's answer (the floor has none)."""
    if server == MLFLOW:
        return lambda body: [row[1] for row in body["predictions"]]
    return _driftloop_answer if server.startswith(DRIFTLOOP) else None


def _check(
    server: str, url: str, payloads: dict[str, bytes], reference: dict[str, list[float]]
) -> None:
    """Every payload answers 200; driftloop's probabilities equal mlflow's (recorded first)."""
    for name, body in payloads.items():
        answer = post_json(f"{url}/invocations", body)
        read = _probabilities(server)
        if read is None:
            continue
        got = read(answer)
        expected = reference.setdefault(name, got)
        worst = max(abs(a - b) for a, b in zip(got, expected, strict=True))
        if worst > 1e-6:
            raise RuntimeError(f"{server} disagrees with mlflow on {name}: max |diff| {worst:.3g}")


class _Bench:
    """What every measurement shares: wrk, the bodies and mlflow's answers to compare against."""

    def __init__(self, args: argparse.Namespace, ws: Path) -> None:
        self.args, self.ws = args, ws
        self.wrk = _wrk.ensure_wrk()
        self.payloads = _setup.payloads(args.input_csv)
        self.scripts = {
            name: _wrk.write_script(ws, f"payload-{i}", body, JSON)
            for i, (name, body) in enumerate(self.payloads.items())
        }
        self.reference: dict[str, list[float]] = {}

    def load(
        self, url: str, payload: str, connections: int, threads: int, seconds: int
    ) -> WrkResult:
        return _wrk.run(
            self.wrk,
            f"{url}/invocations",
            self.scripts[payload],
            connections=connections,
            threads=threads,
            duration_s=seconds,
        )

    def server(self, spec: ServerSpec, round_: int) -> list[Run]:
        """Start one server, check its answers, warm it up, run every case, stop it."""
        log = self.ws / "logs" / f"{spec.name.replace('/', '-')}-{round_}.log"
        runs = []
        with running(spec, cwd=self.ws, log=log, base_env=_env(self.ws)) as url:
            _check(spec.name, url, self.payloads, self.reference)
            self.load(url, "1 row", 16, 2, self.args.warmup)
            for case in CASES:
                result = self.load(
                    url, case.payload, case.connections, case.threads, self.args.duration
                )
                runs.append(Run(round_, spec.name, case.name, result))
                _progress(runs[-1])
        return runs


def _progress(run: Run) -> None:
    r = run.result
    console.print(
        f"round {run.round + 1}  {run.server:<18} {run.case:<18} {r.requests_per_s:>9,.0f} req/s"
        f"  p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  non-2xx {r.non_2xx}"
    )


def _measure(args: argparse.Namespace, specs: list[ServerSpec], ws: Path) -> list[Run]:
    """Alternating rounds: every server once per round, one at a time, in the same order."""
    bench = _Bench(args, ws)
    runs: list[Run] = []
    for round_ in range(args.rounds):
        for spec in specs:
            runs += bench.server(spec, round_)
            time.sleep(1)  # let the stopped server's sockets and CPU settle
    return runs


def _env(ws: Path) -> dict[str, str]:
    """The caller's environment without DRIFTLOOP_* or MLFLOW_* settings (MLflow exports its
    URIs to the environment of whoever set them), pointed at the workspace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTLOOP_", "MLFLOW_"))}
    uri = _setup.tracking_uri(ws)
    env.update(DRIFTLOOP_HOME=str(ws), MLFLOW_TRACKING_URI=uri, MLFLOW_REGISTRY_URI=uri)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up load (2)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (2)")
    parser.add_argument("--workspace", type=Path, help="reuse this DRIFTLOOP_HOME (default: temp)")
    parser.add_argument("--input-csv", type=Path, default=DEFAULT_CSV, help="Telco churn CSV")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument(
        "--predictors",
        nargs="*",
        default=["pipeline", "gtil", "tl2cgen", "onnx", "lleaves"],
        help="extra driftloop rows, one per predictor kind (pipeline gtil tl2cgen onnx lleaves)",
    )
    parser.add_argument("--no-breakdown", action="store_true", help="skip the in-process part")
    return parser.parse_args(argv)


def _write_json(path: Path, args: argparse.Namespace, version: int, runs: list[Run]) -> None:
    settings = {"duration_s": args.duration, "rounds": args.rounds, "workers": WORKERS}
    best = [
        {"server": server, "case": case, **result.to_dict()}
        for (server, case), result in _report.best(runs).items()
    ]
    document = {
        "settings": settings | {"selection": "per case, the round with the most requests/s"},
        "model": {"name": _setup.MODEL_NAME, "version": version},
        "runs": [run.to_dict() for run in runs],
        "best": best,
        "targets": [t.to_dict() for t in _report.targets(runs)],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def _run(args: argparse.Namespace, ws: Path) -> int:
    (ws / "logs").mkdir(parents=True, exist_ok=True)
    console.print(f"workspace {ws}; preparing the model")
    version = _setup.prepare(ws, args.input_csv, BIN, _env(ws))
    if not args.no_breakdown:
        serving_breakdown.report(console, ws, _setup.MODEL_NAME, version)
    rows = _predictor_rows(args.predictors, ws, version)
    console.print(f"{_setup.MODEL_NAME} v{version}; {args.rounds} round(s) of {args.duration} s")
    runs = _measure(args, _setup.server_specs(version, BIN, REPO, WORKERS, rows), ws)
    _report.print_report(console, runs, args.rounds)
    if args.json:
        _write_json(args.json, args, version, runs)
    failed = [t for t in _report.targets(runs) if not t.passed]
    return 1 if args.strict and failed else 0


def _predictor_rows(kinds: list[str], ws: Path, version: int) -> dict[str, dict[str, str]]:
    """Per applicable predictor kind, its row's name and environment; says why others are not."""
    bench = serving_breakdown.Breakdown(ws, _setup.MODEL_NAME, version)
    rows = {}
    for kind in kinds:
        try:
            serving_predictors.build(kind, bench.pipeline, bench.model.spec)
        except serving_predictors.NotApplicable as exc:
            console.print(f"row {DRIFTLOOP}/{kind}: not applicable: {exc}"[:400])
            continue
        rows[f"{DRIFTLOOP}/{kind}"] = serving_predictors.seam_env(kind, ws / "seam")
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.workspace is not None:
        args.workspace.mkdir(parents=True, exist_ok=True)
        return _run(args, args.workspace.resolve())
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as tmp:
        return _run(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
