"""A tiny pipeline runner: named steps, a step cache, resume of failed runs, and events.

A step is a function of a :class:`Context` returning JSON-able outputs. A cacheable step's
earlier result is reused when its cache key (step name, parameters, content of its input
files, the upstream outputs it uses, driftloop's version and its module's source) matches,
the cache is on, the result is younger than ``cache_expire_after`` and its outputs still exist
(files present, runs not deleted), like SageMaker Pipelines' CacheConfig. Steps that change
shared state (register, deploy) are never cached and must be idempotent.

A run whose process died without a word (SIGKILL, power loss) stays Executing; once that
process is gone from this host the run is orphaned, and resuming it first fails it at the step
it left Executing, as a failed step would have.

Every status change is an event: "Pipeline Execution Status Change" for the run and
"Pipeline Execution Step Status Change" for each step, both from ``driftloop.pipeline``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import driftloop
from driftloop.config import Settings
from driftloop.errors import DriftloopError, NotFoundError
from driftloop.loop.events import emit
from driftloop.loop.pipeline_store import (
    EXECUTING,
    FAILED,
    SKIPPED,
    SUCCEEDED,
    CacheEntry,
    PipelineStore,
    RunRecord,
    StepRecord,
    orphaned,
)
from driftloop.owner import Owner

SOURCE = "driftloop.pipeline"
Outputs = dict[str, Any]
Say = Callable[[str], None]


class SkipStep(Exception):
    """Raised by a step with nothing to do; it is recorded Skipped with this reason."""


class PipelineFailed(DriftloopError):
    """A step failed; the run is Failed and can be resumed. Exits with the step error's code."""

    code = "pipeline_failed"

    def __init__(self, message: str, cause: BaseException, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        if isinstance(cause, DriftloopError):
            self.exit_code, self.status_code = cause.exit_code, cause.status_code


class PipelineStateError(DriftloopError):
    """The run is in a state that does not allow the request (e.g. resuming a Succeeded run)."""

    status_code = 409
    exit_code = 10
    code = "pipeline_conflict"


@dataclass(frozen=True)
class Context:
    """What a step sees: settings, the run's parameters and the outputs of earlier steps."""

    settings: Settings
    run_id: str
    step: str
    params: dict[str, Any]
    outputs: dict[str, Outputs]
    say: Say = field(default=lambda _message: None)

    @property
    def folder(self) -> Path:
        """This step's folder in this run, for the files it writes."""
        return runs_folder(self.settings) / self.run_id / self.step

    def get(self, ref: str) -> Any:
        """An upstream output by ``"step.key"``."""
        step, key = ref.split(".", 1)
        return self.outputs[step][key]


def _nothing(_context: Context) -> Any:
    return {}


def _no_files(_context: Context) -> list[Path]:
    return []


def _always(_context: Context, _outputs: Outputs) -> bool:
    return True


@dataclass(frozen=True)
class Step:
    """A named step and what its cache key is made of."""

    name: str
    run: Callable[[Context], Outputs]
    cacheable: bool = True
    uses: tuple[str, ...] = ()
    """Upstream outputs (``"step.key"``) that enter the cache key."""
    params: Callable[[Context], dict[str, Any]] = _nothing
    """Parameters that enter the cache key."""
    files: Callable[[Context], list[Path]] = _no_files
    """Input files whose content enters the cache key."""
    still_valid: Callable[[Context, Outputs], bool] = _always
    """Whether recorded outputs still exist (files present, runs not deleted)."""


@dataclass(frozen=True)
class Pipeline:
    name: str
    steps: tuple[Step, ...]


def runs_folder(settings: Settings) -> Path:
    """Where runs keep their files: ``<workspace>/pipelines/<run id>/<step>/``."""
    return settings.workspace.root / "pipelines"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content; :class:`NotFoundError` when it is missing."""
    if not path.is_file():
        raise NotFoundError(f"input file not found: {path}", details={"file": str(path)})
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def code_version(function: Callable[..., Any]) -> str:
    """driftloop's version and a hash of the source of the module defining ``function``."""
    try:
        source = inspect.getsource(sys.modules[function.__module__])
    except (KeyError, OSError, TypeError):  # no source (built in, or typed at a prompt)
        source = function.__qualname__
    return f"{driftloop.__version__}+{hashlib.sha256(source.encode()).hexdigest()[:12]}"


def cache_key(step: Step, context: Context) -> str:
    """SHA-256 over everything the step's result depends on."""
    parts = {
        "step": step.name,
        "params": step.params(context),
        "files": [file_digest(path) for path in step.files(context)],  # content, not names
        "uses": {ref: context.get(ref) for ref in step.uses},
        "code": code_version(step.run),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def run(
    pipeline: Pipeline,
    settings: Settings,
    params: dict[str, Any],
    *,
    cache: bool = True,
    on_step: Callable[[StepRecord], None] | None = None,
    say: Say | None = None,
) -> RunRecord:
    """Run every step; ``cache=False`` recomputes even when ``[pipeline] cache`` is on.

    Raises :class:`PipelineFailed` when a step fails (the run is then Failed).
    """
    runner = _Runner(pipeline, settings, cache, on_step, say)
    record = runner.store.create_run(pipeline.name, params, Owner.current())
    runner.announce(record.run_id, EXECUTING, None)
    return runner.execute(record, 0, {})


def resume(
    pipeline: Pipeline,
    settings: Settings,
    run_id: str,
    *,
    cache: bool = True,
    on_step: Callable[[StepRecord], None] | None = None,
    say: Say | None = None,
) -> RunRecord:
    """Re-run a Failed run from its failed step, reusing the outputs its earlier steps recorded
    (whatever the cache settings; a step whose outputs are gone runs again).

    An orphaned run (see :func:`~driftloop.loop.pipeline_store.orphaned`) is first failed at the
    step it left Executing. Raises :class:`PipelineStateError` for a run in any other state,
    naming the process of an Executing run.
    """
    runner = _Runner(pipeline, settings, cache, on_step, say)
    record = runner.store.get_run(run_id)
    if record.pipeline != pipeline.name:
        raise PipelineStateError(f"pipeline run {run_id} is a {record.pipeline} run")
    if record.status == EXECUTING:
        record = runner.fail_orphan(record)
    if record.status != FAILED:
        raise PipelineStateError(
            f"pipeline run {run_id} is {record.status}; only a Failed run can be resumed"
        )
    start, outputs = runner.reusable(record)
    if not runner.store.reopen(run_id, Owner.current()):
        raise PipelineStateError(f"pipeline run {run_id} is already being resumed")
    runner.announce(run_id, EXECUTING, FAILED)
    return runner.execute(record, start, outputs)


class _Runner:
    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        cache: bool,
        on_step: Callable[[StepRecord], None] | None,
        say: Say | None,
    ) -> None:
        self.pipeline, self.settings, self.on_step = pipeline, settings, on_step
        self.say: Say = say or (lambda _message: None)
        self.use_cache = cache and settings.pipeline.cache
        self.store = PipelineStore(settings.workspace)

    def context(self, record: RunRecord, step: Step, outputs: dict[str, Outputs]) -> Context:
        return Context(self.settings, record.run_id, step.name, record.params, outputs, self.say)

    def reusable(self, record: RunRecord) -> tuple[int, dict[str, Outputs]]:
        """Index of the first step to run again, and the outputs of the steps before it."""
        done = {s.step: s for s in self.store.steps(record.run_id)}
        outputs: dict[str, Outputs] = {}
        for index, step in enumerate(self.pipeline.steps):
            found = done.get(step.name)
            if found is None or found.status not in (SUCCEEDED, SKIPPED):
                return index, outputs
            if not step.still_valid(self.context(record, step, outputs), found.outputs):
                return index, outputs
            outputs[step.name] = found.outputs
        return len(self.pipeline.steps), outputs

    def fail_orphan(self, record: RunRecord) -> RunRecord:
        """Fail an orphaned run at the step it left Executing, with a failure's events;
        :class:`PipelineStateError` when its process may still be executing it."""
        run_id, owner = record.run_id, record.owner
        if owner is None or not orphaned(record):
            raise PipelineStateError(_not_orphaned(record), details={"run": run_id})
        message = f"interrupted: {owner} is gone"
        left = [step for step in self.store.steps(run_id) if step.status == EXECUTING]
        failed_step = left[-1].step if left else self._next_step(record)
        reason = message if failed_step is None else f"{failed_step}: {message}"
        if not self.store.fail_orphan(run_id, owner, failed_step=failed_step, error=reason):
            raise PipelineStateError(f"pipeline run {run_id} is already being resumed")
        self.say(f"pipeline run {run_id} failed at {reason}")
        for step in left:
            self._failed(step, message)
        self.announce(run_id, FAILED, EXECUTING, reason)
        return self.store.get_run(run_id)

    def _next_step(self, record: RunRecord) -> str | None:
        """The step a resume would start from (the process died between two steps)."""
        start, _ = self.reusable(record)
        return self.pipeline.steps[start].name if start < len(self.pipeline.steps) else None

    def execute(self, record: RunRecord, start: int, outputs: dict[str, Outputs]) -> RunRecord:
        run_id = record.run_id
        for step in self.pipeline.steps[start:]:
            try:
                outputs[step.name] = self._step(step, self.context(record, step, outputs))
            except BaseException as exc:
                reason = f"{step.name}: {_message(exc)}"
                self.store.finish_run(run_id, FAILED, failed_step=step.name, error=reason)
                self.announce(run_id, FAILED, EXECUTING, reason)
                if not isinstance(exc, Exception):
                    raise
                raise PipelineFailed(
                    f"pipeline run {run_id} failed at step {reason} (fix the cause, then "
                    f"`driftloop pipeline run --resume {run_id}`)",
                    exc,
                    details={"run": run_id, "step": step.name},
                ) from exc
        self.store.finish_run(run_id, SUCCEEDED)
        self.announce(run_id, SUCCEEDED, EXECUTING)
        return self.store.get_run(run_id)

    def _step(self, step: Step, context: Context) -> Outputs:
        try:
            key = cache_key(step, context) if step.cacheable else None
            hit = self._hit(step, key, context) if key is not None else None
        except BaseException as exc:  # e.g. a missing input file
            self._failed(self.store.start_step(context.run_id, step.name, None), _message(exc))
            raise
        if hit is not None:
            started = self.store.start_step(context.run_id, step.name, key, hit.run_id)
            self._ended(self.store.end_step(started.id, SUCCEEDED, outputs=hit.outputs))
            return hit.outputs
        started = self.store.start_step(context.run_id, step.name, key)
        self.say(f"running {step.name}")
        try:
            outputs = json.loads(json.dumps(step.run(context)))  # JSON-able, and a copy
        except SkipStep as skip:
            skipped = {"reason": str(skip)}
            self._ended(self.store.end_step(started.id, SKIPPED, outputs=skipped))
            return skipped
        except BaseException as exc:
            self._failed(started, _message(exc))
            raise
        self._ended(self.store.end_step(started.id, SUCCEEDED, outputs=outputs))
        if key is not None:
            self.store.put_cache(key, step.name, context.run_id, outputs)
        return outputs

    def _failed(self, started: StepRecord, error: str) -> None:
        self._ended(self.store.end_step(started.id, FAILED, error=error))

    def _hit(self, step: Step, key: str, context: Context) -> CacheEntry | None:
        if not self.use_cache:
            return None
        entry = self.store.cache_entry(key)
        if entry is None:
            return None
        expire = self.settings.pipeline.cache_expire_after
        if expire is not None and time.time() - entry.created >= expire.total_seconds():
            return None
        return entry if step.still_valid(context, entry.outputs) else None

    def _ended(self, record: StepRecord) -> None:
        detail = {
            "runId": record.run_id,
            "pipelineName": self.pipeline.name,
            "stepName": record.step,
            "attempt": record.attempt,
            "currentStepStatus": record.status,
            "previousStepStatus": None if record.cached_from else EXECUTING,
            "cacheHitResult": {"sourceRunId": record.cached_from} if record.cached_from else None,
            "failureReason": record.error,
        }
        emit(self.settings.workspace, SOURCE, "Pipeline Execution Step Status Change", detail)
        if self.on_step is not None:
            self.on_step(record)

    def announce(
        self, run_id: str, status: str, previous: str | None, reason: str | None = None
    ) -> None:
        detail = {
            "runId": run_id,
            "pipelineName": self.pipeline.name,
            "currentPipelineExecutionStatus": status,
            "previousPipelineExecutionStatus": previous,
            "failureReason": reason,
        }
        emit(self.settings.workspace, SOURCE, "Pipeline Execution Status Change", detail)


def _not_orphaned(run: RunRecord) -> str:
    """Why an Executing run cannot be resumed."""
    executing, owner = f"pipeline run {run.run_id} is Executing", run.owner
    if owner is None:
        return (
            f"{executing} and its process was not recorded (the run predates owner tracking), "
            "so it cannot be judged orphaned"
        )
    if not owner.local:
        return (
            f"{executing} in {owner}, another host; a run owned by another host is never judged "
            f"orphaned: resume it on {owner.host} once that process is gone"
        )
    return (
        f"{executing} in {owner}, which is still running; only a Failed run, or an Executing "
        "one whose process is gone, can be resumed"
    )


def _message(exc: BaseException) -> str:
    if isinstance(exc, DriftloopError):
        return exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"{type(exc).__name__}: {exc}"
