"""What the demo did: a row per step for the summary table, and each transition's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftloop.demo.endpoint import EndpointProcess
from driftloop.deploy.guarded import DeployResult
from driftloop.monitoring.job import MonitoringRun
from driftloop.pipelines.store import StepRecord


@dataclass
class DemoReport:
    """One row per step (step, outcome, where) and what the end-to-end checks look at."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    pipeline_run: str | None = None
    training: list[StepRecord] = field(default_factory=list)
    normal_run: MonitoringRun | None = None
    drift_run: MonitoringRun | None = None
    alarm_after_s: float | None = None
    retrain: dict[str, Any] | None = None
    rollout: dict[str, Any] | None = None
    bad: DeployResult | None = None
    requests: int = 0
    failed_requests: int = 0
    champion: int | None = None
    endpoint_url: str | None = None
    endpoint_pid: int | None = None
    console_url: str | None = None
    console_pid: int | None = None
    serving: list[EndpointProcess] = field(default_factory=list, repr=False)
    """What a ``keep_serving`` demo left running: its endpoint, then its console."""
    folder: Path | None = None
    marks: list[tuple[float, str]] = field(default_factory=list)

    def add(self, step: str, outcome: str, where: Path | str = "") -> None:
        """A summary row; paths inside the demo folder are shown relative to it."""
        folder = self.folder
        if isinstance(where, Path) and folder is not None and where.is_relative_to(folder):
            where = where.relative_to(folder)
        self.rows.append((step, outcome, str(where)))

    def mark(self, at: float, label: str) -> None:
        """A moment (epoch seconds) to mark on the timeline."""
        self.marks.append((at, label))
