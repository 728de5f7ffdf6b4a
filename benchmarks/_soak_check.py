"""The soak's verdicts and its table: one row per minute, one PASS/FAIL line per check."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

GROWTH_LIMIT = 0.05  # memory and descriptors may grow at most 5 % after the first minute
TAIL = 3  # the last minutes compared with the first one


@dataclass(frozen=True)
class Minute:
    """What one minute of load measured."""

    index: int
    requests: int
    failures: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    rss_bytes: int
    fds: int
    processes: int
    capture_files: int
    config: str
    swap_live_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    check: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def flat(what: str, series: Sequence[float], limit: float = GROWTH_LIMIT) -> Verdict:
    """PASS when the median of the last ``TAIL`` values (after the first) exceeds the first
    value by less than ``limit``; a leak grows steadily, so one noisy sample does not decide."""
    if len(series) < 2:
        return Verdict(f"{what} flat", True, "one minute only: nothing to compare")
    first = series[0]
    last = statistics.median(series[1:][-TAIL:])
    growth = (last - first) / first if first else float(last > 0)
    detail = f"minute 1 {first:,.5g}, last minutes {last:,.5g}: {growth:+.1%} (limit +{limit:.0%})"
    return Verdict(f"{what} flat", growth < limit, detail)


def verdicts(minutes: Sequence[Minute]) -> list[Verdict]:
    """Memory and descriptors flat, no failed request, every config swap live."""
    failures = sum(m.failures for m in minutes)
    requests = sum(m.requests for m in minutes)
    missed = [m.index for m in minutes if m.swap_live_s is None]
    return [
        flat("RSS (MiB)", [m.rss_bytes / 2**20 for m in minutes]),
        flat("open descriptors", [m.fds for m in minutes]),
        Verdict("no failed request", failures == 0, f"{failures:,} of {requests:,} failed"),
        Verdict(
            "every config swap live",
            not missed,
            f"{len(minutes) - len(missed)} of {len(minutes)} swaps seen answering"
            + (f"; not live in minute(s) {missed}" if missed else ""),
        ),
    ]


def progress_line(m: Minute) -> str:
    swap = "not live" if m.swap_live_s is None else f"live {m.swap_live_s:.1f} s"
    return (
        f"minute {m.index:>3}  {m.requests:>8,} req  {m.requests_per_s:>7,.0f}/s  fail {m.failures}"
        f"  p50 {m.p50_ms:6.2f} ms  p99 {m.p99_ms:7.2f} ms  RSS {m.rss_bytes / 2**20:7.1f} MiB"
        f"  fds {m.fds:>4}  capture files {m.capture_files:>3}  {m.config} ({swap})"
    )


def print_report(console: Console, minutes: Sequence[Minute], results: Sequence[Verdict]) -> None:
    table = Table(title="Soak, per minute")
    for column in ("minute", "requests", "req/s", "failures", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    for column in ("RSS MiB", "fds", "procs", "capture files"):
        table.add_column(column, justify="right")
    table.add_column("config after swap")
    table.add_column("swap live s", justify="right")
    for m in minutes:
        table.add_row(
            str(m.index),
            f"{m.requests:,}",
            f"{m.requests_per_s:,.0f}",
            str(m.failures),
            f"{m.p50_ms:.2f}",
            f"{m.p99_ms:.2f}",
            f"{m.rss_bytes / 2**20:.1f}",
            str(m.fds),
            str(m.processes),
            str(m.capture_files),
            m.config,
            "-" if m.swap_live_s is None else f"{m.swap_live_s:.1f}",
        )
    console.print(table)
    for v in results:
        mark = "[green]PASS[/green]" if v.passed else "[red]FAIL[/red]"
        console.print(f"{mark}  {v.check}: {v.detail}")
