"""The retraining policy: when drift or quality events may retrain, and on which data.

Training data is the original training data plus labelled captured traffic, and the gate
compares the challenger with the champion on the most recent labelled traffic, which neither
trained on (:mod:`driftloop.retraining.data`). A passing version becomes
``challenger`` (Approved, or PendingManualApproval when approval is required); a guarded
deployment makes it champion (:func:`roll_out`, automatic with ``[retrain] deploy = true``).
Cooldown, the daily cap and de-duplication live in the :class:`Ledger`.

A retrain is claimed in the ledger before it starts. When its process dies (SIGKILL, power
loss) the claim stays running; :func:`resume_retrains` carries it out once, over the same
window of traffic, resuming the retraining pipeline's run where it stopped and recognising a
version that run registered before the process died, so a retrain is neither lost nor doubled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from driftloop.backends.catalog import Backends
from driftloop.capture.reader import utc
from driftloop.config import Settings
from driftloop.data.preprocess import MANIFEST
from driftloop.data.spec import target_vector
from driftloop.deploy.guarded import DeployPlan, DeployResult, deploy
from driftloop.errors import ConfigError
from driftloop.events.base import EventBus
from driftloop.monitoring.target import MonitorTarget, resolve_target, served_spec
from driftloop.registry.base import (
    APPROVED,
    BASE_SNAPSHOT_TAG,
    CHAMPION,
    UNTIL_TAG,
    ModelRegistry,
)
from driftloop.retraining.data import Cut, labelled_chunks, new_rows, split_rows
from driftloop.retraining.ledger import COMPLETED, FAILED, Claim, Ledger
from driftloop.retraining.pipeline import run_retraining
from driftloop.training.metrics import evaluate
from driftloop.workspace import atomic_path, atomic_write_text

SOURCE = "driftloop.retrain"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class RetrainOutcome:
    """What one retrain decision did; metrics are on the recent labelled hold-out."""

    status: str  # "retrained" or "skipped"
    reason: str
    version: int | None = None
    gate_passed: bool | None = None
    approval: str | None = None
    pipeline_run: str | None = None  # the retraining pipeline's run (step cache and lineage)
    labelled_rows: int = 0  # labelled captured rows new to the champion
    training_rows: int = 0
    captured_in_training: int = 0
    recent_rows: int = 0
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
    stores = Backends.from_settings(settings)
    bus = stores.events
    ledger, detail = Ledger(ws.retrain_db), {"endpoint": endpoint, "trigger": event_id}
    if ledger.handled(event_id):
        return _skipped(bus, detail, RetrainOutcome("skipped", "duplicate event"))
    target = resolve_target(settings, endpoint)
    since = now - policy.window if policy.window is not None else None
    labelled = labelled_traffic(stores, target, since, now)
    lineage = _lineage(settings, stores.registry, target)
    fresh = new_rows(labelled, lineage[1])
    claim = ledger.claim(endpoint, event_id, now, policy, force, fresh)
    if isinstance(claim, str):
        return _skipped(bus, detail, RetrainOutcome("skipped", claim, labelled_rows=fresh))
    bus.emit(SOURCE, "Retraining Started", {**detail, "claim": claim.id, "labelled_rows": fresh})
    return _carry_out(settings, stores, ledger, claim, target, labelled, lineage)


def resume_retrains(settings: Settings) -> list[tuple[str, RetrainOutcome]]:
    """Carry out every claimed retrain whose process died before it settled, once each (a
    claim another process takes over first is left to it); each endpoint with its outcome."""
    ledger, outcomes = Ledger(settings.workspace.retrain_db), []
    for orphan in ledger.orphans():
        claim = ledger.take_over(orphan)
        if claim is None:
            continue
        stores = Backends.from_settings(settings)
        reason = f"interrupted: {orphan.owner} is gone"
        detail = {"endpoint": claim.endpoint, "trigger": claim.event_id, "claim": claim.id}
        stores.events.emit(
            SOURCE, "Retraining Resumed", {**detail, "attempt": claim.attempts, "reason": reason}
        )
        target = resolve_target(settings, claim.endpoint)
        window = settings.retrain.window
        since = claim.at - window if window is not None else None
        labelled = labelled_traffic(stores, target, since, claim.at)
        lineage = _lineage(settings, stores.registry, target)
        outcome = _carry_out(settings, stores, ledger, claim, target, labelled, lineage)
        outcomes.append((claim.endpoint, outcome))
    return outcomes


def _carry_out(
    settings: Settings,
    stores: Backends,
    ledger: Ledger,
    claim: Claim,
    target: MonitorTarget,
    labelled: pd.DataFrame,
    lineage: tuple[str, Cut | None],
) -> RetrainOutcome:
    """Train for ``claim`` and settle it, announcing how it ended."""
    detail = {"endpoint": claim.endpoint, "trigger": claim.event_id, "claim": claim.id}
    try:
        outcome = _train(settings, stores, target, labelled, lineage, claim)
    except Exception as exc:
        ledger.settle(claim, FAILED, error=str(exc))
        stores.events.emit(SOURCE, "Retraining Failed", {**detail, "error": str(exc)})
        raise
    ledger.settle(claim, COMPLETED, version=outcome.version)
    stores.events.emit(SOURCE, "Retraining Completed", {**detail, **outcome.to_dict()})
    return outcome


def _skipped(bus: EventBus, detail: dict[str, Any], outcome: RetrainOutcome) -> RetrainOutcome:
    bus.emit(SOURCE, "Retraining Skipped", {**detail, **outcome.to_dict()})
    return outcome


def labelled_traffic(
    stores: Backends, target: MonitorTarget, since: datetime | None, until: datetime
) -> pd.DataFrame:
    """Labelled captured rows of ``[since, until)`` (``since`` None: all captured history),
    each once, in capture-time order (see :mod:`driftloop.retraining.data`)."""
    chunks = stores.capture.read_chunks(
        target.endpoint, target.spec, since=since or EPOCH, until=until
    )
    return labelled_chunks(chunks, stores.labels.read(target.endpoint), target.spec)


def _lineage(
    settings: Settings, registry: ModelRegistry, target: MonitorTarget
) -> tuple[str, Cut | None]:
    """The original training snapshot the served version's lineage started from, and the cut up
    to which it and the champion trained on captured traffic (the later of the two)."""
    name = settings.registry.model_name
    champion = registry.get_by_alias(name, CHAMPION)
    versions = [registry.get_version(name, target.version)]
    if champion is not None and champion.version != target.version:
        versions.append(champion)
    cutoffs = [Cut.from_text(v.tags[UNTIL_TAG]) for v in versions if UNTIL_TAG in v.tags]
    served = versions[0]
    base = served.tags.get(BASE_SNAPSHOT_TAG) or served.train_snapshot or ""
    return base, max(cutoffs, default=None)


def _train(
    settings: Settings,
    stores: Backends,
    target: MonitorTarget,
    labelled: pd.DataFrame,
    lineage: tuple[str, Cut | None],
    claim: Claim,
) -> RetrainOutcome:
    """Train on the original data plus older labelled rows, gate on the recent hold-out."""
    policy, (base_digest, until) = settings.retrain, lineage
    base = None
    if policy.history == "all":
        base = stores.snapshots.read(base_digest)
    rows = split_rows(
        labelled, base, until, policy.recent_fraction, target.spec, policy.recent_max_rows
    )
    folder = settings.workspace.root / "retrain" / claim.at.strftime("%Y%m%dT%H%M%S%fZ")
    train_csv, val_csv = _write(folder, target, rows.train, rows.recent)
    tags = {BASE_SNAPSHOT_TAG: base_digest, UNTIL_TAG: rows.cut.to_text()}
    run, outputs = run_retraining(settings, train_csv, val_csv, target.endpoint, tags, claim.id)
    registered, gate = outputs["register"], outputs["evaluate"]["gate"]
    rival = gate["champion_version"] or target.version
    champion = _champion_metrics(settings, stores.registry, rival, rows.recent)
    passed = bool(outputs["evaluate"]["passed"])
    return RetrainOutcome(
        "retrained",
        f"v{registered['version']}: gate {'passed' if passed else 'failed'}",
        version=registered["version"],
        gate_passed=passed,
        approval=registered["approval"],
        pipeline_run=run.run_id,
        labelled_rows=rows.new_rows,
        training_rows=len(rows.train),
        captured_in_training=rows.captured_in_training,
        recent_rows=len(rows.recent),
        champion_metrics=champion,
        challenger_metrics=dict(outputs["train"]["best"]["metrics"]),
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
    settings: Settings, registry: ModelRegistry, version: int, recent: pd.DataFrame
) -> dict[str, float]:
    """The champion's metrics on the recent hold-out (the gate's comparison, in full)."""
    model = registry.load_model(settings.registry.model_name, version)
    spec, threshold = served_spec(settings.registry.model_name, version)
    proba = model.predict_proba(recent[spec.features])[:, 1]
    y = target_vector(recent, spec, source="recent labelled traffic")
    return evaluate(y, proba, threshold=threshold)


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
    names = [config.name for config in Backends.from_settings(settings).endpoints.list()]
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
