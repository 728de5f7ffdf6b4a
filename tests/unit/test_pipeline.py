"""The pipeline runner with toy steps: cache keys, expiry, still-valid outputs, skip, resume."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from driftloop.config import PipelineSettings, Settings, load_settings
from driftloop.errors import DataError, NotFoundError
from driftloop.loop import pipeline
from driftloop.loop.events import read_events
from driftloop.loop.pipeline import (
    Context,
    Pipeline,
    PipelineFailed,
    PipelineStateError,
    SkipStep,
    Step,
)
from driftloop.loop.pipeline_store import FAILED, SKIPPED, SUCCEEDED, PipelineStore

calls: list[str] = []
broken: set[str] = set()


def _shout(ctx: Context) -> dict[str, Any]:
    calls.append("shout")
    text = Path(ctx.params["input"]).read_text()
    out = ctx.folder / "shout.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text.upper())
    return {"file": str(out), "length": len(text)}


def _count(ctx: Context) -> dict[str, Any]:
    calls.append("count")
    if "count" in broken:
        raise DataError("count broke")
    return {"total": ctx.get("shout.length") * ctx.params["factor"]}


def _publish(ctx: Context) -> dict[str, Any]:
    calls.append("publish")
    if ctx.params.get("skip"):
        raise SkipStep("nothing to publish")
    return {"published": ctx.get("count.total")}


TOY = Pipeline(
    "toy",
    (
        Step(
            "shout",
            _shout,
            files=lambda ctx: [Path(ctx.params["input"])],
            still_valid=lambda _ctx, out: Path(out["file"]).is_file(),
        ),
        Step(
            "count",
            _count,
            uses=("shout.length",),
            params=lambda ctx: {"factor": ctx.params["factor"]},
        ),
        Step("publish", _publish, cacheable=False),
    ),
)


@pytest.fixture
def settings(home: Path) -> Settings:
    calls.clear()
    broken.clear()
    return load_settings()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text("hello")
    return path


def _run(settings: Settings, source: Path, **params: Any) -> pipeline.RunRecord:
    calls.clear()
    return pipeline.run(TOY, settings, {"input": str(source), "factor": 2, **params})


def _cached_from(settings: Settings, run_id: str) -> dict[str, str | None]:
    return {s.step: s.cached_from for s in PipelineStore(settings.workspace).steps(run_id)}


def _with_cache(settings: Settings, **fields: Any) -> Settings:
    return settings.model_copy(update={"pipeline": PipelineSettings(**fields)})


def test_a_second_identical_run_reuses_the_cacheable_steps(
    settings: Settings, source: Path
) -> None:
    first = _run(settings, source)
    assert first.status == SUCCEEDED and re.fullmatch(r"run-\d{8}T\d{6}-[0-9a-f]{4}", first.run_id)
    assert calls == ["shout", "count", "publish"]
    second = _run(settings, source)
    assert calls == ["publish"]  # never cached
    assert _cached_from(settings, second.run_id) == {
        "shout": first.run_id,
        "count": first.run_id,
        "publish": None,
    }
    steps = PipelineStore(settings.workspace).steps(second.run_id)
    assert steps[-1].outputs == {"published": 10}


def test_parameters_and_file_content_invalidate_the_right_steps(
    settings: Settings, source: Path
) -> None:
    _run(settings, source)
    _run(settings, source, factor=3)
    assert calls == ["count", "publish"]
    source.write_text("hello!")
    _run(settings, source, factor=3)
    assert calls == ["shout", "count", "publish"]
    source.write_text("hello")  # back to content seen before: its results are still cached
    _run(settings, source)
    assert calls == ["publish"]
    copy = source.with_name("copy.txt")  # the key holds the content, not the file name
    copy.write_text("hello")
    _run(settings, copy)
    assert calls == ["publish"]


def test_outputs_that_are_gone_are_recomputed(settings: Settings, source: Path) -> None:
    first = _run(settings, source)
    Path(PipelineStore(settings.workspace).steps(first.run_id)[0].outputs["file"]).unlink()
    _run(settings, source)
    assert calls == ["shout", "publish"]  # count used only the length, which is unchanged


def test_disabled_or_expired_cache_recomputes(settings: Settings, source: Path) -> None:
    _run(settings, source)
    everything = ["shout", "count", "publish"]
    _run(_with_cache(settings, cache=False), source)
    assert calls == everything
    calls.clear()
    pipeline.run(TOY, settings, {"input": str(source), "factor": 2}, cache=False)
    assert calls == everything
    _run(_with_cache(settings, cache_expire_after=timedelta(0)), source)
    assert calls == everything
    _run(_with_cache(settings, cache_expire_after=timedelta(hours=1)), source)
    assert calls == ["publish"]


def test_a_skipped_step_records_its_reason(settings: Settings, source: Path) -> None:
    done = _run(settings, source, skip=True)
    assert done.status == SUCCEEDED
    last = PipelineStore(settings.workspace).steps(done.run_id)[-1]
    assert (last.status, last.outputs) == (SKIPPED, {"reason": "nothing to publish"})


def test_a_failed_run_resumes_from_its_failed_step(settings: Settings, source: Path) -> None:
    broken.add("count")
    with pytest.raises(PipelineFailed, match="failed at step count: count broke") as failed:
        _run(settings, source, factor=5)
    assert failed.value.exit_code == DataError.exit_code
    store = PipelineStore(settings.workspace)
    run_id = failed.value.details["run"]
    run = store.get_run(run_id)
    assert (run.status, run.failed_step, run.error) == (FAILED, "count", "count: count broke")
    assert [(s.step, s.status) for s in store.steps(run_id)] == [
        ("shout", SUCCEEDED),
        ("count", FAILED),
    ]
    shout_before = store.steps(run_id)[0]

    broken.clear()
    calls.clear()
    resumed = pipeline.resume(TOY, settings, run_id, cache=False)
    assert resumed.status == SUCCEEDED and resumed.error is None
    assert calls == ["count", "publish"]  # not shout, whatever the cache settings
    steps = store.steps(run_id)
    assert steps[0] == shout_before
    assert [(s.step, s.attempt) for s in steps] == [("shout", 1), ("count", 2), ("publish", 1)]
    assert steps[-1].outputs == {"published": 25}

    statuses = [
        e["detail"]["currentPipelineExecutionStatus"]
        for e in read_events(settings.workspace)
        if e["detail-type"] == "Pipeline Execution Status Change"
    ]
    assert statuses == ["Executing", "Failed", "Executing", "Succeeded"]
    with pytest.raises(PipelineStateError, match="is Succeeded; only a Failed run can be resumed"):
        pipeline.resume(TOY, settings, run_id)


def test_resuming_an_unknown_run_names_it(settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="no pipeline run 'run-nope'"):
        pipeline.resume(TOY, settings, "run-nope")


def test_a_missing_input_file_fails_its_step(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(PipelineFailed, match="shout: input file not found") as failed:
        _run(settings, tmp_path / "missing.txt")
    assert failed.value.exit_code == NotFoundError.exit_code
    steps = PipelineStore(settings.workspace).steps(failed.value.details["run"])
    assert [(s.step, s.status) for s in steps] == [("shout", FAILED)]


def test_step_events_carry_the_cache_hit(settings: Settings, source: Path) -> None:
    first = _run(settings, source)
    _run(settings, source)
    steps = [
        e["detail"]
        for e in read_events(settings.workspace)
        if e["detail-type"] == "Pipeline Execution Step Status Change"
    ]
    assert [s["stepName"] for s in steps] == ["shout", "count", "publish"] * 2
    assert steps[3]["cacheHitResult"] == {"sourceRunId": first.run_id}
    assert steps[0]["cacheHitResult"] is None and steps[0]["currentStepStatus"] == SUCCEEDED


def test_code_version_follows_the_module_source() -> None:
    from driftloop import __version__

    mine = pipeline.code_version(_shout)
    assert mine.startswith(f"{__version__}+") and mine == pipeline.code_version(_count)
    assert mine != pipeline.code_version(pipeline.file_digest)
