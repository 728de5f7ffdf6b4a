#!/usr/bin/env python
"""The release step of a CI/CD pipeline: ``python deploy.py [--endpoint NAME] [options]``.

Deploys the latest Approved version of the endpoint's model (on the aws backend: the latest
Approved model package of its SageMaker model package group) with the guardrails of the config's
``[deploy]`` section, which the options override; then sends a smoke request of rows from the
version's training snapshot through the endpoint and checks the answer
(driftloop.deploy.release). Exits 0 when the endpoint serves the version and answered well,
otherwise with one sentence and driftloop's exit code: 4 when nothing is approved, 9 when the
deployment was rolled back, 1 when the smoke test failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from driftloop.cli.deploy import show_step
from driftloop.config import load_log_settings, load_settings
from driftloop.deploy.release import SMOKE_ROWS, release
from driftloop.durations import parse_at_least
from driftloop.errors import ConfigError, DriftloopError
from driftloop.logging import configure_logging


def arguments(argv: list[str]) -> argparse.Namespace:
    """The options; those left out come from the config's ``[deploy]`` section."""
    parser = argparse.ArgumentParser(
        description="Deploy the latest Approved model version with guardrails and smoke-test it."
    )
    parser.add_argument("--endpoint", "-e", help="endpoint (default: serving.endpoint)")
    parser.add_argument("--config", "-c", type=Path, help="config file (default ./driftloop.toml)")
    strategies = ["all-at-once", "canary", "linear"]
    parser.add_argument("--strategy", choices=strategies, help="how traffic moves to it")
    parser.add_argument("--canary-percent", type=float, help="canary: traffic %% it gets first")
    parser.add_argument("--step", type=float, help="linear: traffic %% moved per step")
    parser.add_argument("--interval", help="linear: time between steps (60s, 1m)")
    parser.add_argument("--bake", help="how long each full step bakes (5m)")
    parser.add_argument("--alarm", action="append", help="alarm that rolls back (repeatable)")
    parser.add_argument("--poll", help="how often the alarms are checked")
    parser.add_argument("--topic", help="notification topic told of every step")
    parser.add_argument("--rows", type=int, default=SMOKE_ROWS, help="rows in the smoke request")
    parser.add_argument("--url", help="runtime URL for the smoke request (default: the config's)")
    parser.add_argument("--report", type=Path, help="write what happened to this JSON file")
    return parser.parse_args(argv)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The deploy plan fields the options set."""

    def seconds(text: str, what: str, minimum: timedelta) -> float:
        return parse_at_least(text, minimum, what=what).total_seconds()

    positive = timedelta(milliseconds=1)
    given = {
        "strategy": args.strategy,
        "canary_percent": args.canary_percent,
        "linear_step_percent": args.step,
        "interval_s": seconds(args.interval, "--interval", positive) if args.interval else None,
        "bake_s": seconds(args.bake, "--bake", timedelta(0)) if args.bake else None,
        "alarms": args.alarm,
        "poll_s": seconds(args.poll, "--poll", positive) if args.poll else None,
        "topic": args.topic,
    }
    return {key: value for key, value in given.items() if value is not None}


def main(argv: list[str] | None = None) -> int:
    """Run the release; 0 on success, else driftloop's exit code with the reason on stderr."""
    args = arguments(sys.argv[1:] if argv is None else argv)
    report: dict[str, Any]
    try:
        logs = load_log_settings()
        configure_logging(logs.level or "WARNING", logs.format)
        settings = load_settings(args.config)
        endpoint = args.endpoint or settings.serving.endpoint
        if not endpoint:
            raise ConfigError("name the endpoint: --endpoint NAME (or serving.endpoint)")
        done = release(
            settings,
            endpoint,
            overrides=overrides(args),
            rows=args.rows,
            url=args.url,
            on_step=show_step,
        )
    except DriftloopError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        report = {"status": "failed", "exit_code": exc.exit_code, **exc.to_dict()}
        code = exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    else:
        smoke = done.smoke
        answered = f" by {smoke.variant}" if smoke.variant else ""
        answered += f" (v{smoke.model_version})" if smoke.model_version else ""
        print(f"{done.action}: {done.reason}")
        print(
            f"smoke test passed: {smoke.rows} rows through {smoke.via}, answered{answered}, "
            f"probabilities {min(smoke.probabilities):.3f} to {max(smoke.probabilities):.3f}"
        )
        report = {"status": "released", **done.to_dict()}
        code = 0
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
