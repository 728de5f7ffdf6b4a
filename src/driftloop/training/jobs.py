"""Training somewhere else: the contract of a training-job service (SageMaker's
CreateTrainingJob and DescribeTrainingJob) and waiting for a job.

A job runs driftloop's script-mode entry point (``train_model.py``, see
``driftloop.script_mode``) on a ``train`` and a ``validation`` channel. It leaves the best
candidate as an MLflow model folder (``MLmodel`` at its top) and the candidate's validation
metrics as ``metrics.json`` (``{"best", "metrics", "threshold"}``), which :meth:`fetch` returns.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftloop.errors import TrainingError

Progress = Callable[[str], None]
COMPLETED, FAILED, STOPPED = "Completed", "Failed", "Stopped"
TERMINAL = (COMPLETED, FAILED, STOPPED)


@dataclass(frozen=True)
class JobRequest:
    """What a job trains on: the two CSVs (and the manifest that types them) and the
    script's hyperparameters (``--name value``)."""

    train_csv: Path
    val_csv: Path
    hyperparameters: dict[str, Any]
    manifest: Path | None = None


@dataclass(frozen=True)
class JobStatus:
    """One DescribeTrainingJob answer, as far as driftloop reads it."""

    name: str
    status: str
    """InProgress, Completed, Failed, Stopping or Stopped."""
    secondary: str = ""
    """Starting, Downloading, Training, Uploading, ... (the service's finer status)."""
    message: str = ""
    failure_reason: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def line(self) -> str:
        """One progress line: ``job: status (secondary): message``."""
        detail = f" ({self.secondary})" if self.secondary and self.secondary != self.status else ""
        return f"{self.name}: {self.status}{detail}" + (f": {self.message}" if self.message else "")


@dataclass(frozen=True)
class JobModel:
    """A completed job's output: the MLflow model folder and its ``metrics.json``."""

    folder: Path
    summary: dict[str, Any]


class TrainingJobs(ABC):
    """Training jobs run by a service; the verbs follow SageMaker's."""

    @abstractmethod
    def require(self) -> None:
        """Raise :class:`~driftloop.errors.ConfigError` naming the first setting a job needs
        and lacks; writes nothing."""

    @abstractmethod
    def upload(self, files: Sequence[Path], where: str) -> list[str]:
        """Put ``files`` under ``where`` (relative to the backend's storage root, where jobs
        can read them); their URIs, in order."""

    @abstractmethod
    def submit(self, request: JobRequest) -> str:
        """Upload the channels and the entry point and start a job (:meth:`require` first);
        the job's name."""

    @abstractmethod
    def describe(self, name: str) -> JobStatus:
        """The job's status; :class:`~driftloop.errors.NotFoundError` when there is none."""

    @abstractmethod
    def fetch(self, name: str, into: Path) -> JobModel:
        """Download a Completed job's model and metrics into ``into``;
        :class:`~driftloop.errors.TrainingError` when it has not completed or its output
        lacks the model or the metrics."""

    def wait(
        self,
        name: str,
        progress: Progress | None = None,
        *,
        poll: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> JobStatus:
        """Describe the job every ``poll`` seconds until it ends, telling ``progress`` each
        change; the Completed status, else :class:`~driftloop.errors.TrainingError` with the
        job's FailureReason."""
        say = progress or (lambda _message: None)
        shown = ""
        while True:
            status = self.describe(name)
            if status.line() != shown:
                shown = status.line()
                say(shown)
            if status.done:
                break
            sleep(poll)
        if status.status != COMPLETED:
            reason = status.failure_reason or "no reason given"
            raise TrainingError(f"training job {name} {status.status.lower()}: {reason}")
        return status
