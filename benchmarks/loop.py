"""Loop-efficacy benchmark: does the closed loop keep a served model accurate under drift?

The loop runs for real in a temporary workspace: v1 is trained by the training pipeline on
generated Telco-schema rows and served by a `driftloop serve` process with data capture; the
agent runs in a thread with driftloop's default rule, ``retrain-on-violations`` (every
"Monitoring Run Completed" event with status ``CompletedWithViolations`` asks for a retrain),
and ``[retrain] deploy`` rolls a passing challenger out as a canary under the demo's latency
and error alarms.

Thirteen windows follow, each of fresh generator rows, one request per row, with labels posted
to the endpoint's ``/labels`` two seconds late:

- windows 1-3, undrifted: scenario ``none``;
- windows 4-7, gradual drift: ``price_shock`` at strength 0.25, 0.5, 0.75, 1;
- windows 8-10, sustained drift: ``price_shock`` at strength 1;
- windows 11-13, sudden change: ``concept_shift`` at strength 1 (prices back to normal, new
  churn rules).

After each window's labels arrive, one monitoring run covers exactly that window, as a schedule
would. One window stands for one monitoring interval, so the time-based retrain limits are
scaled to the compressed time (``cooldown = "PT0S"``, a large ``max_per_day``), deployments
bake a few seconds, and the agent ticks every second; every other setting is driftloop's
default. The next window starts only after the retrain the run started has ended and any
roll-out it started has settled, so each window is served by one version.

Figures per window, all ROC AUC on that window's rows:

- static: v1, never retrained, scored offline;
- oracle: the trainer's candidates retrained offline before the window on every label seen so
  far (v1's rows and all earlier windows), the best on a stratified validation split;
- loop: the probabilities the endpoint actually returned (its data capture) against the labels;
- recovered share: (loop - static) / (oracle - static), n/a where the oracle gains under 0.005.

Summary: the pooled recovered share over the drifted windows, sum(loop - static) /
sum(oracle - static) (target >= 0.7); the detection delay, windows from each drift onset to the
first monitoring run with violations (target <= 1); the false-alarm rate, the share of
undrifted windows whose run found violations (target 0). The benchmark prints and never fails
on a missed target. Run it as a script: ``python benchmarks/loop.py --help``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _loop_run import (
    Window,
    WindowRun,
    prepare,
    retrain_rules,
    run_window,
    running_loop,
    train_v1,
)
from _loop_score import Scores, Summary, score_windows, summarize, typed
from rich.console import Console
from rich.table import Table

from driftloop.data.generator import generate

console = Console(width=None if sys.stdout.isatty() else 200)
V1_ROWS = 5000
BAKE_S = 3.0
DEADLINE_S = 20 * 60  # no new window starts after this long


def plan(seed: int) -> list[Window]:
    """The thirteen windows, each with its own generator seed."""
    steps = [("undrifted", "none", 0.0)] * 3
    steps += [("gradual", "price_shock", s) for s in (0.25, 0.5, 0.75, 1.0)]
    steps += [("sustained", "price_shock", 1.0)] * 3
    steps += [("sudden", "concept_shift", 1.0)] * 3
    windows, previous = [], "undrifted"
    for n, (phase, scenario, strength) in enumerate(steps, 1):
        onset = phase in ("gradual", "sudden") and phase != previous
        windows.append(Window(n, phase, scenario, strength, seed + 100 + n, onset))
        previous = phase
    return windows


def run(args: argparse.Namespace, folder: Path) -> tuple[list[WindowRun], list[Scores], float]:
    """The loop over every window, then the offline scores; also the loop's seconds."""
    settings = prepare(folder, V1_ROWS, args.seed, BAKE_S)
    data = settings.workspace.ensure().root / "bench"
    data.mkdir(parents=True, exist_ok=True)
    rules = retrain_rules(settings)
    named = ", ".join(rules) or "[red]none: the loop cannot retrain[/]"
    console.print(f"rules that retrain: {named}")
    console.print(f"workspace {folder}: training v1 on {V1_ROWS:,} generated rows")
    train_v1(settings, folder, lambda _message: None)
    runs: list[WindowRun] = []
    started = time.monotonic()
    with running_loop(settings, folder) as loop:
        spec = loop.spec
        for window in plan(args.seed):
            if time.monotonic() - started > DEADLINE_S:
                console.print(f"[red]stopping after {len(runs)} windows: past {DEADLINE_S} s[/]")
                break
            runs.append(run_window(loop, window, args.windows_rows, data, _say))
    seconds = time.monotonic() - started
    console.print("scoring the static model and the oracle offline")
    v1_csv = data / "v1.csv"
    generate(V1_ROWS, args.seed).to_csv(v1_csv, index=False)
    scores = score_windows(settings, spec, typed(v1_csv, settings, spec), runs)
    return runs, scores, seconds


def _say(message: str) -> None:
    console.print(f"  {message}", highlight=False)


def _retrain_cell(run: WindowRun) -> str:
    retrain = run.retrain
    if retrain is None:
        return "-"
    if retrain["type"] == "Retraining Completed":
        gate = "pass" if retrain.get("gate_passed") else "fail"
        old, new = retrain["champion_metrics"], retrain["challenger_metrics"]
        held = f"{old.get('roc_auc', float('nan')):.3f}>{new.get('roc_auc', float('nan')):.3f}"
        return f"v{retrain['version']} gate {gate} ({held})"
    return f"{retrain['type'].removeprefix('Retraining ').lower()}: {retrain.get('reason', '')}"


def _rollout_cell(run: WindowRun) -> str:
    return "-" if run.rollout is None else str(run.rollout.get("step"))


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def table(runs: list[WindowRun], scores: list[Scores]) -> Table:
    out = Table(title="Loop efficacy: ROC AUC per window (one window = one monitoring interval)")
    columns = ("window", "phase", "scenario", "monitoring", "retrain", "roll-out", "served")
    for name in (*columns, "static", "oracle", "loop", "recovered"):
        out.add_column(name, justify="right" if name in ("window", "served") else "left")
    for run, score in zip(runs, scores, strict=True):
        verdict = f"{run.status} ({run.violations})" if run.violations else run.status
        out.add_row(
            str(run.window.number),
            run.window.phase,
            run.window.label,
            verdict,
            _retrain_cell(run),
            _rollout_cell(run),
            f"v{run.served_version}",
            _number(score.static),
            _number(score.oracle),
            _number(score.loop),
            _number(score.recovered, 2),
        )
    return out


def print_summary(summary: Summary) -> None:
    verdicts = Table(title="Targets")
    for name in ("target", "value", "limit", "verdict"):
        verdicts.add_column(name)
    for target, value, limit, passed in summary.verdicts():
        verdicts.add_row(target, value, limit, "[green]PASS[/]" if passed else "[red]FAIL[/]")
    console.print(verdicts)
    means = ", ".join(f"{k} {v:.3f}" for k, v in summary.means.items())
    console.print(f"mean ROC AUC over drifted windows: {means}")


def print_checks(runs: list[WindowRun], scores: list[Scores]) -> None:
    """Every request answered, captured and labelled, or the loop's figure means less."""
    sent = sum(r.sent for r in runs)
    failed = sum(r.failed for r in runs)
    captured = sum(s.served_rows for s in scores)
    labelled = sum(s.labelled_rows for s in scores)
    ok = failed == 0 and captured == labelled == sent
    colour = "green" if ok else "red"
    console.print(
        f"[{colour}]{sent:,} requests, {failed} failed, {captured:,} captured rows, "
        f"{labelled:,} with a label[/]"
    )


def write_outputs(
    out: Path,
    runs: list[WindowRun],
    scores: list[Scores],
    summary: Summary,
    facts: dict[str, Any],
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    windows = [_window_dict(r, s) for r, s in zip(runs, scores, strict=True)]
    payload = {
        **facts,
        "windows": windows,
        "summary": summary.to_dict(),
    }
    (out / "loop.json").write_text(json.dumps(payload, indent=2, default=str))
    plot(out / "loop_auc.png", runs, scores)


def _window_dict(run: WindowRun, score: Scores) -> dict[str, Any]:
    window = run.window
    return {
        "window": window.number,
        "phase": window.phase,
        "scenario": window.scenario,
        "strength": window.strength,
        "seed": window.seed,
        "since": run.since.isoformat(),
        "until": run.until.isoformat(),
        "requests": run.sent,
        "failed_requests": run.failed,
        "monitoring": run.status,
        "violations": run.violations,
        "drifted_columns": run.drifted_columns,
        "retrain": run.retrain,
        "rollout": run.rollout,
        "served_version": run.served_version,
        "seconds": round(run.seconds, 1),
        **score.__dict__,
    }


def plot(path: Path, runs: list[WindowRun], scores: list[Scores]) -> None:
    """ROC AUC per window: static, oracle and loop, drifted windows shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r.window.number for r in runs]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for run in runs:
        if run.window.drifted:
            ax.axvspan(run.window.number - 0.5, run.window.number + 0.5, color="0.93")
    for key, style in (("static", "o--"), ("oracle", "s-"), ("loop", "^-")):
        ax.plot(x, [getattr(s, key) for s in scores], style, label=key)
    ax.set_xlabel("window (shaded: drifted)")
    ax.set_ylabel("ROC AUC")
    ax.set_xticks(x)
    ax.legend()
    ax.set_title("driftloop loop efficacy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _commit() -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows-rows", type=int, default=1200, help="requests per window")
    parser.add_argument("--seed", type=int, default=7, help="seed of v1's rows (windows follow)")
    parser.add_argument("--out", type=Path, help="folder for loop.json and loop_auc.png")
    parser.add_argument("--keep", action="store_true", help="keep the workspace folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    commit = _commit()  # read first: commits may land while the loop runs
    folder = Path(tempfile.mkdtemp(prefix="driftloop-bench-loop-"))
    out = args.out or Path(tempfile.mkdtemp(prefix="driftloop-bench-loop-out-"))
    console.print(
        "one window stands for one monitoring interval: retrain cooldown PT0S, max_per_day "
        f"100000, deploy bake {BAKE_S:g} s, agent tick 1 s; every other setting is the default"
    )
    try:
        runs, scores, seconds = run(args, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    summary = summarize(runs, scores)
    console.print(table(runs, scores))
    print_checks(runs, scores)
    print_summary(summary)
    facts = {"commit": commit, "loop_seconds": round(seconds, 1), "seed": args.seed}
    write_outputs(out, runs, scores, summary, facts)
    console.print(f"commit {commit}: the loop ran {seconds:.0f} s; table as JSON and plot in {out}")
    if args.keep:
        console.print(f"workspace kept in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
