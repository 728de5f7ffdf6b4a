"""The demo's first act: generate data, then the training pipeline (ingest, validate, train,
evaluate, register, deploy) makes v1 and creates the endpoint that serves it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from mlflow.tracking import MlflowClient

from driftloop.config import Settings
from driftloop.data.generator import generate
from driftloop.demo.report import DemoReport
from driftloop.pipelines.store import SUCCEEDED, PipelineStore, StepRecord
from driftloop.pipelines.training import run_training
from driftloop.training.trainer import Progress
from driftloop.workspace import atomic_path


def train_first_model(
    settings: Settings, report: DemoReport, say: Progress, endpoint: str
) -> list[StepRecord]:
    """Generate the demo's data and run the training pipeline; a summary row per step."""
    ws = settings.workspace.ensure()
    say(f"generating {settings.demo.rows} Telco-schema rows")
    raw_csv = ws.data / "telco_demo.csv"
    frame = generate(settings.demo.rows, settings.demo.seed)
    with atomic_path(raw_csv) as tmp:
        frame.to_csv(tmp, index=False)
    churn = (frame["Churn"] == "Yes").mean()
    report.add("generate", f"{len(frame)} rows, churn rate {churn:.1%}", raw_csv)
    run = run_training(settings, raw_csv, endpoint=endpoint, say=say)
    report.pipeline_run = run.run_id
    steps = PipelineStore(ws).steps(run.run_id)
    for step in steps:
        outcome = _summary(step) if step.status == SUCCEEDED else f"{step.status}: {step.error}"
        report.add(f"pipeline: {step.step}", outcome, _where(step, ws.tracking_uri))
    return steps


def _summary(step: StepRecord) -> str:
    out = step.outputs
    if step.step == "ingest":
        return f"train {out['train_rows']} / val {out['val_rows']} rows, Parquet snapshots"
    if step.step == "validate":
        return f"baseline statistics + constraints; {out['violations']} violation(s) in val"
    if step.step == "train":
        best = out["best"]
        return (
            f"{len(out['candidates'])} candidates as MLflow runs, best {best['name']} "
            f"(ROC AUC {best['metrics']['roc_auc']:.3f})"
        )
    if step.step == "evaluate":
        return f"gate {'passed' if out['passed'] else 'failed'}"
    if step.step == "register":
        aliases = ", ".join(out["aliases"]) or "-"
        return f"{out['model']} v{out['version']}: {out['approval']}, aliases {aliases}"
    if step.step == "deploy":
        return f"endpoint {out['endpoint']} {out['action']} on v{out['version']}"
    return "done"


def _where(step: StepRecord, tracking_uri: str) -> Path | str:
    out = step.outputs
    if step.step == "train":  # the best candidate's plots (ROC, PR, calibration, importance)
        run = MlflowClient(tracking_uri).get_run(out["best"]["run_id"])
        uri = urlparse(f"{run.info.artifact_uri}/plots")
        return Path(unquote(uri.path)) if uri.scheme == "file" else uri.geturl()
    for key in ("report", "prepared"):
        if key in out:
            return Path(out[key])
    return ""
