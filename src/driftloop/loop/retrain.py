"""The retraining policy: when drift or quality events may retrain, and on which data.

Training data is the champion's training snapshot plus labelled captured traffic from the last
``window``; a stratified, seeded share of the labelled traffic is held out as recent data, on
which the gate compares the challenger with the champion. A passing version becomes
``challenger`` (Approved, or PendingManualApproval when approval is required); a guarded
deployment makes it champion (:func:`roll_out`, automatic with ``[retrain] deploy = true``).
Cooldown, the daily cap and de-duplication live in the :class:`Ledger`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftloop.config import RetrainSettings, Settings
from driftloop.data.preprocess import MANIFEST
from driftloop.data.spec import target_vector
from driftloop.data.split import stratified_split
from driftloop.errors import ConfigError
from driftloop.loop.deploy import DeployPlan, DeployResult, deploy
from driftloop.loop.events import emit
from driftloop.loop.retrain_ledger import Ledger
from driftloop.monitoring.capture_reader import Window, read_window, utc
from driftloop.monitoring.labels import read_labels
from driftloop.monitoring.target import MonitorTarget, resolve_target
from driftloop.registry.base import APPROVED
from driftloop.serving.endpoint_config import EndpointStore
from driftloop.training.metrics import evaluate
from driftloop.workspace import Workspace, atomic_path, atomic_write_text

SOURCE = "driftloop.retrain"


@dataclass
class RetrainOutcome:
    """What one retrain decision did; metrics are on the recent labelled hold-out."""

    status: str  # "retrained" or "skipped"
    reason: str
    version: int | None = None
    gate_passed: bool | None = None
    approval: str | None = None
    labelled_rows: int = 0
    champion_metrics: dict[str, float] = field(default_factory=dict)
    challenger_metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrain(
    settings: Settings,
    endpoint: str,
    *,
    event: dict[str, Any] | None = None,
    now: datetime | None = None,
    force: bool = False,
) -> RetrainOutcome:
    """Apply the policy to a retrain request for ``endpoint``; retrain when it allows."""
    policy = settings.retrain
    now = utc(now or datetime.now(UTC))
    ws, event_id = settings.workspace, (event or {}).get("id")
    ledger, detail = Ledger(ws.root / "retrain.db"), {"endpoint": endpoint, "trigger": event_id}
    if ledger.handled(event_id):
        return _skipped(ws, detail, RetrainOutcome("skipped", "duplicate event"))
    target = resolve_target(settings, endpoint)
    labelled = labelled_traffic(settings, target, now - policy.window, now)
    reason = ledger.claim(endpoint, event_id, now, policy, force, len(labelled))
    if reason is not None:
        return _skipped(ws, detail, RetrainOutcome("skipped", reason, labelled_rows=len(labelled)))
    emit(ws, SOURCE, "Retraining Started", {**detail, "labelled_rows": len(labelled)})
    try:
        outcome = _train(settings, target, labelled, policy, now)
    except Exception as exc:
        emit(ws, SOURCE, "Retraining Failed", {**detail, "error": str(exc)})
        raise
    emit(ws, SOURCE, "Retraining Completed", {**detail, **outcome.to_dict()})
    return outcome


def _skipped(ws: Workspace, detail: dict[str, Any], outcome: RetrainOutcome) -> RetrainOutcome:
    emit(ws, SOURCE, "Retraining Skipped", {**detail, **outcome.to_dict()})
    return outcome


def labelled_traffic(
    settings: Settings, target: MonitorTarget, since: datetime, until: datetime
) -> pd.DataFrame:
    """Captured rows of ``[since, until)`` that have a label, with the target as label text."""
    spec = target.spec
    window = read_window(
        settings.workspace.capture, target.endpoint, spec, since=since, until=until
    )
    truth = _truth(window, read_labels(settings.workspace, target.endpoint))
    rows = window.frame.loc[truth >= 0, spec.features].reset_index(drop=True)
    rows[spec.target] = [spec.label(bool(y)) for y in truth[truth >= 0]]
    return rows


def _truth(window: Window, labels: dict[str, int]) -> np.ndarray:
    """Each row's label (-1 when unlabelled), keyed by inference id, else event id."""
    ids = zip(window.inference_ids, window.event_ids, strict=True)
    keys = (i if i is not None else e for i, e in ids)
    return np.fromiter((labels.get(k, -1) for k in keys), dtype=np.int64, count=window.rows)


def _train(
    settings: Settings,
    target: MonitorTarget,
    labelled: pd.DataFrame,
    policy: RetrainSettings,
    now: datetime,
) -> RetrainOutcome:
    """Train on snapshot + older labelled rows, gate on the recent hold-out."""
    from driftloop.flows import train_and_register

    older, recent = stratified_split(
        labelled, target.spec, fraction=policy.recent_fraction, seed=settings.data.seed
    )
    train = pd.concat([target.reference(), older], ignore_index=True)
    folder = settings.workspace.root / "retrain" / now.strftime("%Y%m%dT%H%M%S%fZ")
    train_csv, val_csv = _write(folder, target, train, recent)
    trained = train_and_register(settings, train_csv, val_csv, promote=False)
    registration = trained.registration
    assert registration is not None  # registering is the default
    version, gate = registration.version, registration.gate
    champion = _champion_metrics(settings, gate.champion_version or target.version, recent, target)
    return RetrainOutcome(
        "retrained",
        f"v{version.version}: gate {'passed' if gate.passed else 'failed'}",
        version=version.version,
        gate_passed=gate.passed,
        approval=version.approval,
        labelled_rows=len(labelled),
        champion_metrics=champion,
        challenger_metrics=dict(trained.best.metrics),
    )


def _write(
    folder: Path, target: MonitorTarget, train: pd.DataFrame, val: pd.DataFrame
) -> tuple[Path, Path]:
    """``train.csv``, ``val.csv`` and the manifest naming their spec, under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "train.csv", folder / "val.csv"
    for frame, path in zip((train, val), paths, strict=True):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
    manifest = {"source": f"retrain of {target.endpoint}", "spec": target.spec.to_dict()}
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2))
    return paths


def _champion_metrics(
    settings: Settings, version: int, recent: pd.DataFrame, target: MonitorTarget
) -> dict[str, float]:
    """The champion's metrics on the recent hold-out (the gate's comparison, in full)."""
    from driftloop.registry.mlflow_registry import MlflowRegistry

    model = MlflowRegistry(settings.workspace).load_model(settings.registry.model_name, version)
    proba = model.predict_proba(recent[target.spec.features])[:, 1]
    y = target_vector(recent, target.spec, source="recent labelled traffic")
    return evaluate(y, proba, threshold=settings.training.threshold)


def endpoint_of(settings: Settings, event: dict[str, Any]) -> str:
    """The endpoint an event is about: a monitoring run's ``endpoint``, an alarm's
    ``EndpointName``/``Endpoint`` dimension, else the workspace's only endpoint."""
    detail = event.get("detail") or {}
    if isinstance(detail.get("endpoint"), str):
        return str(detail["endpoint"])
    try:
        dimensions = detail["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
    except (KeyError, IndexError, TypeError):
        dimensions = {}
    for key in ("EndpointName", "Endpoint"):
        if isinstance(dimensions, dict) and isinstance(dimensions.get(key), str):
            return str(dimensions[key])
    names = [config.name for config in EndpointStore(settings.workspace).list()]
    if len(names) == 1:
        return names[0]
    raise ConfigError(
        f"event {event.get('id')} names no endpoint and the workspace has {len(names)} "
        f"endpoints ({', '.join(names) or 'none'}); cannot tell which to retrain"
    )


def roll_out(
    settings: Settings, endpoint: str, outcome: RetrainOutcome, **deploy_args: Any
) -> DeployResult | None:
    """Deploy a retrained, gate-passing, Approved challenger to ``endpoint`` with the
    ``[deploy]`` guardrails; None (nothing deployed) for any other outcome."""
    if outcome.status != "retrained" or not outcome.gate_passed or outcome.approval != APPROVED:
        return None
    plan = DeployPlan.from_settings(settings.deploy, endpoint, str(outcome.version))
    return deploy(settings, plan, **deploy_args)
