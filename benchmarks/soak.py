"""Soak: `driftloop serve` at half its measured capacity for 30 minutes, swapping its config.

The endpoint runs as a user would run it (2 workers, capture on for every request). The soak
measures its 1-row capacity with wrk, then paces wrk at a share of it, minute after minute. A
third of the way into each minute it switches the endpoint config with ``driftloop endpoints
update`` (the champion alone, or split 50/50 with a challenger version, so a model is loaded and
unloaded each time) and waits until the new versions answer. Per minute it prints requests,
failures, p50/p99, the RSS and open descriptors of the server's processes summed, and capture
files. At the end: memory and descriptors flat (under 5 % growth after minute 1), no failed
request, every swap live. Run it as a script: ``python benchmarks/soak.py --help``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _setup
import _soak_load
import _soak_probe
import _soak_setup
import _wrk
from _servers import ServerSpec, running
from _soak_check import Minute, Verdict, print_report, progress_line, verdicts
from _soak_load import Load
from _soak_setup import ENDPOINT, Swap
from rich.console import Console
from serving import BIN, DEFAULT_CSV, JSON, WORKERS, _env

STARTUP_S = 600  # two workers importing MLflow on a busy machine can take minutes
console = Console(width=None if sys.stdout.isatty() else 160)


class _Soak:
    """One soak run against one running server."""

    def __init__(self, args: argparse.Namespace, ws: Path, url: str, swaps: Sequence[Swap]):
        self.args, self.ws, self.url, self.swaps = args, ws, url, swaps
        self.env = _env(ws)
        self.group = _soak_probe.server_group("serve")
        self.body = _setup.payloads(args.input_csv)["1 row"]
        self.wrk = _wrk.ensure_wrk()

    def _load(self, script: Path) -> Load:
        url = f"{self.url}/invocations"
        return Load(self.wrk, url, script, self.args.connections, self.args.threads)

    def rate(self) -> tuple[float, float]:
        """The measured capacity (0 when --rate gives the rate) and the rate the soak sends at."""
        if self.args.rate:
            return 0.0, float(self.args.rate)
        script = _wrk.write_script(self.ws, "capacity", self.body, JSON)
        result = _soak_load.capacity(self._load(script), self.args.capacity_seconds)
        return result.requests_per_s, result.requests_per_s * self.args.load

    def _swap(self, swap: Swap, deadline: float) -> float | None:
        """Apply ``swap``; seconds from the update's return until its versions answer (waiting
        until ``deadline``, at least 3 s), None if the update failed or they never did."""
        try:
            _soak_setup.apply(self.ws, BIN, self.env, swap)
        except RuntimeError as exc:
            console.print(f"[red]config swap failed[/red]: {exc}")
            return None
        timeout_s = max(3.0, deadline - time.monotonic())
        return _soak_probe.wait_for_versions(self.url, self.body, set(swap.versions), timeout_s)

    def minute(self, index: int, load: Load) -> Minute:
        """One period of paced load: a config swap a third of the way in, run aside so that
        however long it takes, the server is sampled while wrk's connections are all open."""
        period = self.args.period
        swap = self.swaps[index % len(self.swaps)]
        started = time.monotonic()
        proc = _soak_load.start(load, period)
        try:
            with ThreadPoolExecutor(max_workers=1) as aside:
                time.sleep(period / 3)
                swapping = aside.submit(self._swap, swap, started + period)
                time.sleep(max(0.0, started + period - min(5.0, period / 6) - time.monotonic()))
                use = _soak_probe.usage(self.group)
                files = _soak_probe.capture_files(self.ws / "capture" / ENDPOINT)
                result = _soak_load.finish(proc)
                live = swapping.result()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return Minute(
            index=index,
            requests=result.requests,
            failures=result.non_2xx + result.socket_errors,
            requests_per_s=result.requests_per_s,
            p50_ms=result.p50_ms,
            p99_ms=result.p99_ms,
            rss_bytes=use.rss_bytes,
            fds=use.fds,
            processes=use.processes,
            capture_files=files,
            config=swap.label,
            swap_live_s=live,
        )

    def run(self, rate: float) -> list[Minute]:
        script = _soak_load.paced_script(self.ws, self.body, JSON, rate, self.args.threads)
        load = self._load(script)
        periods = max(1, round(self.args.minutes * 60 / self.args.period))
        minutes = []
        for index in range(1, periods + 1):
            minutes.append(self.minute(index, load))
            console.print(progress_line(minutes[-1]))
        return minutes


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the soak (30)")
    parser.add_argument(
        "--period", type=int, default=60, help="seconds per table row and config swap (60)"
    )
    parser.add_argument("--load", type=float, default=0.5, help="share of capacity sent (0.5)")
    parser.add_argument("--rate", type=float, help="requests/s to send (skips measuring capacity)")
    parser.add_argument("--capacity-seconds", type=int, default=10, help="capacity run (10 s)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--workspace", type=Path, help="reuse this DRIFTLOOP_HOME (default: temp)")
    parser.add_argument("--input-csv", type=Path, default=DEFAULT_CSV, help="Telco churn CSV")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    args = parser.parse_args(argv)
    if args.period < 6:
        parser.error("--period must be at least 6 seconds (a swap and a sample fit in it)")
    return args


def _write_json(
    path: Path,
    args: argparse.Namespace,
    rates: tuple[float, float],
    minutes: list[Minute],
    results: list[Verdict],
) -> None:
    settings = {k: v for k, v in vars(args).items() if isinstance(v, int | float | bool)}
    document = {
        "settings": settings | {"workers": WORKERS, "capture_percent": 100},
        "capacity_per_s": rates[0],
        "rate_per_s": rates[1],
        "minutes": [m.to_dict() for m in minutes],
        "verdicts": [v.to_dict() for v in results],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def _run(args: argparse.Namespace, ws: Path) -> int:
    (ws / "logs").mkdir(parents=True, exist_ok=True)
    env = _env(ws)
    console.print(f"workspace {ws}; preparing the models")
    champion = _setup.prepare(ws, args.input_csv, BIN, env)
    swaps = _soak_setup.swaps(champion, _soak_setup.challenger(ws, BIN, env))
    _soak_setup.create(ws, BIN, env, swaps[0])
    serve = [str(BIN / "driftloop"), "serve", ENDPOINT, "--host", "127.0.0.1"]
    spec = ServerSpec("driftloop", [*serve, "--port", "{port}", "--workers", str(WORKERS)])
    log = ws / "logs" / "soak-server.log"
    with running(spec, cwd=ws, log=log, base_env=env, timeout_s=STARTUP_S) as url:
        soak = _Soak(args, ws, url, swaps)
        rates = soak.rate()
        console.print(
            f"capacity {rates[0]:,.0f} req/s (1 row, {args.connections} connections);"
            f" sending {rates[1]:,.0f} req/s for {args.minutes:g} min, swaps every {args.period} s"
        )
        minutes = soak.run(rates[1])
    results = verdicts(minutes)
    if args.json:
        _write_json(args.json, args, rates, minutes, results)
    print_report(console, minutes, results)
    return 1 if args.strict and not all(v.passed for v in results) else 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.workspace is not None:
        args.workspace.mkdir(parents=True, exist_ok=True)
        return _run(args, args.workspace.resolve())
    with tempfile.TemporaryDirectory(prefix="driftloop-soak-") as tmp:
        return _run(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
