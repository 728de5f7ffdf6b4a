"""Running a pipeline: the step cache, resume of failed runs, and events.

What a pipeline is (steps, their context and cache keys) lives in
:mod:`driftloop.pipelines.steps`. A cacheable step's earlier result is reused when its
cache key matches, the cache is on, the result is younger than ``cache_expire_after`` and its
outputs still exist (files present, runs not deleted), like SageMaker Pipelines' CacheConfig.

A run whose process died without a word (SIGKILL, power loss) stays Executing; once that
process is gone from this host the run is orphaned, and resuming it first fails it at the step
it left Executing, as a failed step would have.

Every status change is an event: "Pipeline Execution Status Change" for the run and
"Pipeline Execution Step Status Change" for each step, both from ``driftloop.pipeline``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.errors import DriftloopError, PipelineFailed, PipelineStateError
from driftloop.owner import Owner
from driftloop.pipelines.steps import Context, Outputs, Pipeline, Say, SkipStep, Step, cache_key
from driftloop.pipelines.store import (
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

SOURCE = "driftloop.pipeline"


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

    An orphaned run (see :func:`~driftloop.pipelines.store.orphaned`) is first failed at the
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
        self.stores = Backends.from_settings(settings)

    def context(self, record: RunRecord, step: Step, outputs: dict[str, Outputs]) -> Context:
        return Context(
            self.settings, self.stores, record.run_id, step.name, record.params, outputs, self.say
        )

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
            outputs: Outputs = json.loads(json.dumps(step.run(context)))  # JSON-able, a copy
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
        self.stores.events.emit(SOURCE, "Pipeline Execution Step Status Change", detail)
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
        self.stores.events.emit(SOURCE, "Pipeline Execution Status Change", detail)


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
