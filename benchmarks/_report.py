"""Pick the best run per case, compute the ratios against mlflow and the floor, judge targets.

Servers beyond the four named here are driftloop with another predictor (``driftloop/<kind>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from _wrk import WrkResult
from rich.console import Console
from rich.table import Table

DRIFTLOOP, CAPTURE, MLFLOW, FLOOR = "driftloop", "driftloop+capture", "mlflow", "floor"
FLOOR_PROTOCOL = "floor/driftloop-protocol"  # the floor app on driftloop's HTTP protocol
LOADED_1, LOADED_100, UNLOADED_1 = "1 row, 16 conn", "100 rows, 16 conn", "1 row, 1 conn"
CASES = (LOADED_1, LOADED_100, UNLOADED_1)
Best = dict[tuple[str, str], WrkResult]


@dataclass(frozen=True)
class Run:
    round: int
    server: str
    case: str
    result: WrkResult

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.round, "server": self.server, "case": self.case} | (
            self.result.to_dict()
        )


@dataclass(frozen=True)
class Target:
    label: str
    value: float
    limit: float
    unit: str
    at_least: bool = False

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def cells(self) -> tuple[str, str, str]:
        digits = 2 if self.unit == "ms" else 1 if self.unit else 0
        sign = ">=" if self.at_least else "<="
        value = f"{self.value:.{digits}f} {self.unit}"
        return value, f"{sign} {self.limit:g} {self.unit}", "PASS" if self.passed else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        keys = ("label", "value", "limit", "unit", "at_least")
        return {key: getattr(self, key) for key in keys} | {"passed": self.passed}


def best(runs: list[Run]) -> Best:
    """Per (server, case), the round with the most requests/s; its latencies come with it."""
    chosen: dict[tuple[str, str], WrkResult] = {}
    for run in runs:
        old = chosen.get((run.server, run.case))
        if old is None or run.result.requests_per_s > old.requests_per_s:
            chosen[(run.server, run.case)] = run.result
    return chosen


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def _vs(chosen: Best, server: str, other: str, case: str) -> float:
    return _ratio(chosen[(server, case)].requests_per_s, chosen[(other, case)].requests_per_s)


def targets(runs: list[Run]) -> list[Target]:
    """The issue's targets for driftloop (capture off unless named), from this run's results."""
    chosen = best(runs)
    failed = sum(r.result.non_2xx + r.result.socket_errors for r in runs if r.server != MLFLOW)
    return [
        Target(
            f"req/s vs the floor, {LOADED_1}",
            100 * _vs(chosen, DRIFTLOOP, FLOOR, LOADED_1),
            50,
            "%",
            at_least=True,
        ),
        Target(
            f"req/s vs mlflow, {LOADED_100}",
            _vs(chosen, DRIFTLOOP, MLFLOW, LOADED_100),
            25,
            "x",
            at_least=True,
        ),
        Target(f"p99, {LOADED_1}", chosen[(DRIFTLOOP, LOADED_1)].p99_ms, 5, "ms"),
        Target(f"p50, {UNLOADED_1}", chosen[(DRIFTLOOP, UNLOADED_1)].p50_ms, 1, "ms"),
        Target(
            f"capture at 100 % costs, {LOADED_1}",
            100 * (1 - _vs(chosen, CAPTURE, DRIFTLOOP, LOADED_1)),
            5,
            "%",
        ),
        Target(
            f"capture at 100 % costs, {LOADED_100}",
            100 * (1 - _vs(chosen, CAPTURE, DRIFTLOOP, LOADED_100)),
            5,
            "%",
        ),
        Target("non-2xx + socket errors, all runs but mlflow's", failed, 0, ""),
    ]


def servers(runs: list[Run]) -> list[str]:
    """Every server measured, in the order of the first round."""
    return list(dict.fromkeys(run.server for run in runs))


def context(runs: list[Run]) -> list[str]:
    """Ratios to read next to the targets: each server against the floor and against mlflow."""
    chosen = best(runs)
    lines = []
    for case in (LOADED_1, LOADED_100):
        for server in servers(runs):
            if server in (FLOOR, MLFLOW) or (server, case) not in chosen:
                continue
            floor = _vs(chosen, server, FLOOR, case)
            lines.append(
                f"{server} req/s = {floor:.3f} x floor, {_vs(chosen, server, MLFLOW, case):.1f}"
                f" x mlflow, {_vs(chosen, server, DRIFTLOOP, case):.2f} x driftloop, {case}"
            )
    return lines


def _results_table(chosen: Best, rounds: int, names: list[str]) -> Table:
    table = Table(title=f"Serving benchmark: best of {rounds} round(s) by requests/s")
    for column in ("case", "server", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors"):
        table.add_column(column, justify="left" if column in ("case", "server") else "right")
    for case in CASES:
        for server in names:
            r = chosen.get((server, case))
            if r is None:
                continue
            numbers = (f"{r.requests_per_s:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}")
            table.add_row(case, server, *numbers, str(r.non_2xx), str(r.socket_errors))
        table.add_section()
    return table


def print_report(console: Console, runs: list[Run], rounds: int) -> None:
    """The results table, the targets with PASS/FAIL and the ratios against the floor."""
    console.print(_results_table(best(runs), rounds, servers(runs)))
    verdicts = Table(title="Targets (driftloop with capture off unless named)")
    for column in ("target", "value", "limit", "verdict"):
        verdicts.add_column(column, justify="left" if column == "target" else "right")
    for target in targets(runs):
        value, limit, verdict = target.cells()
        colour = "green" if target.passed else "red"
        verdicts.add_row(target.label, value, limit, f"[{colour}]{verdict}[/]")
    console.print(verdicts)
    for line in context(runs):
        console.print(f"  {line}")
