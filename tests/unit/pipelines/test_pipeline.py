"""The pipeline runner with toy steps: cache keys, expiry, still-valid outputs, skip, resume,
and runs orphaned by a killed process."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from driftloop.cli import pipeline as pipeline_cli
from driftloop.config import PipelineSettings, Settings, load_settings
from driftloop.errors import DataError, NotFoundError
from driftloop.events.log import read_events
from driftloop.owner import Owner
from driftloop.pipelines import runner as pipeline
from driftloop.pipelines import steps as pipeline_steps
from driftloop.pipelines.runner import PipelineFailed, PipelineStateError
from driftloop.pipelines.steps import Context, Pipeline, SkipStep, Step
from driftloop.pipelines.store import (
    EXECUTING,
    FAILED,
    SKIPPED,
    SUCCEEDED,
    PipelineStore,
    RunRecord,
    orphaned,
)
from tests.conftest import REPO

calls: list[str] = []
broken: set[str] = set()
killed: set[str] = set()  # steps that SIGKILL their own process (only ever set in a child)


def _shout(ctx: Context) -> dict[str, Any]:
    calls.append("shout")
    text = Path(ctx.params["input"]).read_text()
    out = ctx.folder / "shout.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text.upper())
    return {"file": str(out), "length": len(text)}


def _count(ctx: Context) -> dict[str, Any]:
    calls.append("count")
    if "count" in killed:
        os.kill(os.getpid(), signal.SIGKILL)
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


def _run(settings: Settings, source: Path, **params: Any) -> RunRecord:
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

    mine = pipeline_steps.code_version(_shout)
    assert mine.startswith(f"{__version__}+") and mine == pipeline_steps.code_version(_count)
    assert mine != pipeline_steps.code_version(pipeline_steps.file_digest)


# Runs orphaned by a killed process

_KILLED_CHILD = """
import sys
from driftloop.config import load_settings
from driftloop.pipelines import runner as pipeline
from tests.unit.pipelines import test_pipeline as toy

toy.killed.add("count")
pipeline.run(toy.TOY, load_settings(), {"input": sys.argv[1], "factor": 2})
"""


def _dead_pid() -> int:
    child = subprocess.Popen(["sleep", "0"])
    child.wait()
    return child.pid


def _events(settings: Settings, kind: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in read_events(settings.workspace) if e["detail-type"] == kind]


def test_a_killed_run_resumes_from_the_step_it_left_executing(
    settings: Settings, source: Path
) -> None:
    child = subprocess.run(  # runs the toy pipeline on this workspace; count kills it
        [sys.executable, "-c", _KILLED_CHILD, str(source)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    store = PipelineStore(settings.workspace)
    (run,) = store.list_runs()
    assert run.status == EXECUTING and run.owner is not None and orphaned(run)
    assert [(s.step, s.status) for s in store.steps(run.run_id)] == [
        ("shout", SUCCEEDED),
        ("count", EXECUTING),
    ]
    shout = store.steps(run.run_id)[0]
    gone = f"interrupted: process {run.owner.pid} on {run.owner.host} is gone"

    resumed = pipeline.resume(TOY, settings, run.run_id)
    assert resumed.status == SUCCEEDED and resumed.owner == Owner.current()
    assert calls == ["count", "publish"]  # not shout, which the killed process ran
    steps = store.steps(run.run_id)
    assert steps[0] == shout
    assert [(s.step, s.attempt) for s in steps] == [("shout", 1), ("count", 2), ("publish", 1)]
    assert steps[-1].outputs == {"published": 10}

    runs = _events(settings, "Pipeline Execution Status Change")
    assert [(r["currentPipelineExecutionStatus"], r["failureReason"]) for r in runs] == [
        (EXECUTING, None),
        (FAILED, f"count: {gone}"),
        (EXECUTING, None),
        (SUCCEEDED, None),
    ]
    steps_seen = _events(settings, "Pipeline Execution Step Status Change")
    assert [
        (s["stepName"], s["attempt"], s["currentStepStatus"], s["failureReason"])
        for s in steps_seen
    ] == [
        ("shout", 1, SUCCEEDED, None),
        ("count", 1, FAILED, gone),  # as a failed step is reported
        ("count", 2, SUCCEEDED, None),
        ("publish", 1, SUCCEEDED, None),
    ]


def test_the_commands_show_an_orphaned_run(settings: Settings) -> None:
    store = PipelineStore(settings.workspace)
    pid = _dead_pid()
    run = store.create_run("toy", {"input": "in.txt"}, Owner(pid, Owner.current().host, None))
    store.start_step(run.run_id, "shout", None)
    runner = CliRunner()
    listed = runner.invoke(pipeline_cli.app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "Executing (orphaned)" in listed.output
    shown = runner.invoke(pipeline_cli.app, ["show", run.run_id])
    assert shown.exit_code == 0, shown.output
    assert "Executing (orphaned)" in shown.output
    assert f"orphaned: process {pid} on " in shown.output
    assert f"driftloop pipeline run --resume {run.run_id}" in shown.output


@pytest.mark.parametrize(
    ("elsewhere", "message"),
    [
        (False, "in process {pid} on {host}, which is still running"),
        (
            True,
            "in process {pid} on {host}, another host; a run owned by another host is "
            "never judged orphaned: resume it on {host}",
        ),
    ],
    ids=["live process", "another host"],
)
def test_an_executing_run_that_may_be_running_is_refused(
    settings: Settings, elsewhere: bool, message: str
) -> None:
    owner = Owner(_dead_pid(), "build-7.example", None) if elsewhere else Owner.current()
    store = PipelineStore(settings.workspace)
    run = store.create_run("toy", {"input": "in.txt", "factor": 2}, owner)
    store.start_step(run.run_id, "shout", None)
    expected = message.format(pid=owner.pid, host=owner.host)
    with pytest.raises(PipelineStateError, match=re.escape(expected)):
        pipeline.resume(TOY, settings, run.run_id)
    assert not orphaned(run)
    assert store.get_run(run.run_id) == run  # untouched
    assert [s.status for s in store.steps(run.run_id)] == [EXECUTING]
    assert calls == [] and list(read_events(settings.workspace)) == []


def test_an_owner_is_gone_once_its_process_exits() -> None:
    me = Owner.current()
    assert not me.gone() and me.local
    dead = Owner(_dead_pid(), me.host, None)
    assert dead.gone()
    assert not Owner(dead.pid, "build-7.example", None).gone()  # cannot be told from here


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="start times come from /proc")
def test_a_reused_pid_or_an_unreaped_process_is_not_the_owner() -> None:
    me = Owner.current()
    assert me.started is not None
    assert Owner(me.pid, me.host, me.started + 1).gone()  # same pid, another process
    child = subprocess.Popen(["sleep", "0"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    try:
        assert Owner(child.pid, me.host, None).gone()
    finally:
        child.wait()


_OLD_RUNS = (  # the runs table before owners were recorded
    "CREATE TABLE runs (run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, "
    "status TEXT NOT NULL, params TEXT NOT NULL, started REAL NOT NULL, ended REAL, "
    "failed_step TEXT, error TEXT)"
)


def test_an_old_database_gains_the_owner_columns(settings: Settings, source: Path) -> None:
    path = settings.workspace.root / "pipelines.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    params = f'{{"input": "{source}", "factor": 2}}'
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(_OLD_RUNS)
        db.execute(
            "INSERT INTO runs VALUES ('run-old-failed', 'toy', 'Failed', ?, 1, 2, 'shout', 'x'),"
            " ('run-old-executing', 'toy', 'Executing', ?, 3, NULL, NULL, NULL)",
            (params, params),
        )
    store = PipelineStore(settings.workspace)
    assert {(r.run_id, r.owner) for r in store.list_runs()} == {
        ("run-old-failed", None),
        ("run-old-executing", None),
    }
    with pytest.raises(PipelineStateError, match="its process was not recorded"):
        pipeline.resume(TOY, settings, "run-old-executing")
    resumed = pipeline.resume(TOY, settings, "run-old-failed")
    assert resumed.status == SUCCEEDED and resumed.owner == Owner.current()
    assert calls == ["shout", "count", "publish"]
    assert _run(settings, source).owner == Owner.current()


def test_a_run_killed_between_steps_fails_at_the_next_one(settings: Settings, source: Path) -> None:
    store = PipelineStore(settings.workspace)
    dead = Owner(_dead_pid(), Owner.current().host, None)
    run = store.create_run("toy", {"input": str(source), "factor": 2}, dead)
    someone = Owner(dead.pid + 1, dead.host, None)  # a resume that lost the race to claim it
    assert not store.fail_orphan(run.run_id, someone, failed_step=None, error="x")
    assert store.get_run(run.run_id).status == EXECUTING

    assert pipeline.resume(TOY, settings, run.run_id).status == SUCCEEDED
    assert calls == ["shout", "count", "publish"]
    (failed,) = (
        r
        for r in _events(settings, "Pipeline Execution Status Change")
        if r["currentPipelineExecutionStatus"] == FAILED
    )
    assert failed["failureReason"] == f"shout: interrupted: {dead} is gone"
