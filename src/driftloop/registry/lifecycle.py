"""Register a candidate, gate it, and move approval status and aliases.

Every change is all-or-nothing: a registration that fails half-way deletes its version, and no
alias moves unless every tag is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from driftloop.config import Settings
from driftloop.data.dataset import Dataset
from driftloop.errors import RegistryError
from driftloop.registry.base import (
    APPROVAL_TAG,
    APPROVED,
    BASELINE_TAG,
    CHALLENGER,
    CHAMPION,
    GATE_REPORT_TAG,
    GATE_TAG,
    PENDING,
    REJECTED,
    THRESHOLD_TAG,
    ModelRegistry,
    ModelVersion,
)
from driftloop.registry.gate import Check, GateResult, champion_check, floor_checks
from driftloop.training.metrics import evaluate
from driftloop.training.trainer import CandidateResult


@dataclass(frozen=True)
class Registration:
    version: ModelVersion
    gate: GateResult

    @property
    def promoted(self) -> bool:
        return CHAMPION in self.version.aliases


def register_and_gate(
    registry: ModelRegistry,
    candidate: CandidateResult,
    holdout: Dataset,
    settings: Settings,
    baseline_uri: str,
    extra_tags: dict[str, str] | None = None,
    *,
    promote: bool = True,
) -> Registration:
    """Register ``candidate`` as a new version, gate it and promote it when allowed.

    With ``promote=False`` an Approved version becomes ``challenger`` while a champion exists:
    a guarded deployment moves the champion alias when its traffic shift completes.
    """
    champion = registry.get_by_alias(settings.registry.model_name, CHAMPION)
    gate = gate_candidate(registry, candidate, holdout, settings, champion)
    return register_gated(
        registry, candidate, gate, settings, baseline_uri, extra_tags, promote=promote
    )


def register_gated(
    registry: ModelRegistry,
    candidate: CandidateResult,
    gate: GateResult,
    settings: Settings,
    baseline_uri: str,
    extra_tags: dict[str, str] | None = None,
    *,
    promote: bool = True,
) -> Registration:
    """Register ``candidate`` with the verdict of ``gate``; move the alias the verdict earns.

    All or nothing: a failure after the version exists deletes it again.
    """
    name = settings.registry.model_name
    champion = registry.get_by_alias(name, CHAMPION)
    tags = {
        "candidate": candidate.name,
        BASELINE_TAG: baseline_uri,
        GATE_TAG: "passed" if gate.passed else "failed",
        GATE_REPORT_TAG: gate.to_json(),
        APPROVAL_TAG: _initial_approval(gate, settings),
        THRESHOLD_TAG: repr(candidate.threshold),
        **{f"metric.{k}": f"{v:.6f}" for k, v in candidate.metrics.items()},
        **(extra_tags or {}),
    }
    version = registry.create_version(name, candidate.model_uri, candidate.run_id, tags)
    try:
        if tags[APPROVAL_TAG] == APPROVED and (promote or champion is None):
            registry.set_alias(name, CHAMPION, version.version)
        elif gate.passed:
            registry.set_alias(name, CHALLENGER, version.version)
    except BaseException:
        registry.delete_version(name, version.version)
        raise
    registered = registry.get_version(name, version.version)
    registry.announce(
        "Model Version Registered",
        {**version_detail(registered), "gate": json.loads(gate.to_json())},
    )
    return Registration(registered, gate)


def find_version(registry: ModelRegistry, name: str, run_id: str) -> ModelVersion | None:
    """The oldest version of ``name`` registered from MLflow run ``run_id``, if any."""
    return next((v for v in registry.list_versions(name) if v.run_id == run_id), None)


def version_detail(version: ModelVersion) -> dict[str, object]:
    """The event detail describing a model version."""
    return {
        "modelName": version.name,
        "version": version.version,
        "approvalStatus": version.approval,
        "gateStatus": version.gate_status,
        "aliases": list(version.aliases),
        "candidate": version.tags.get("candidate"),
    }


def announce(registry: ModelRegistry, change: str, version: ModelVersion) -> ModelVersion:
    """Announce a "Model Version State Change" on the registry's bus; return the version."""
    registry.announce("Model Version State Change", {"change": change, **version_detail(version)})
    return version


def _initial_approval(gate: GateResult, settings: Settings) -> str:
    if not gate.passed:
        return REJECTED
    return PENDING if settings.gate.require_approval else APPROVED


def gate_candidate(
    registry: ModelRegistry,
    candidate: CandidateResult,
    holdout: Dataset,
    settings: Settings,
    champion: ModelVersion | None,
) -> GateResult:
    """Check ``candidate`` against the metric floors and, when given, ``champion`` on
    ``holdout``. A champion that cannot score the holdout fails the comparison."""
    checks = floor_checks(candidate.metrics, settings.gate)
    if champion is None:
        return GateResult(tuple(checks))
    metric = settings.training.primary_metric
    try:
        model = registry.load_model(champion.name, champion.version)
        proba = model.predict_proba(holdout.features)[:, 1]
        threshold = float(champion.tags.get(THRESHOLD_TAG, 0.5))
        reference = evaluate(holdout.target, proba, threshold=threshold)
    except Exception as exc:  # a champion that cannot score this holdout cannot be compared
        detail = f"champion v{champion.version} could not score the holdout: {exc}"
        checks.append(Check(f"champion:{metric}", False, detail))
        return GateResult(tuple(checks), champion.version)
    checks.append(
        champion_check(
            metric,
            candidate.metrics[metric],
            reference[metric],
            champion.version,
            settings.gate.min_improvement,
        )
    )
    return GateResult(tuple(checks), champion.version)


def approve(
    registry: ModelRegistry,
    name: str,
    version: int,
    *,
    force: bool = False,
) -> ModelVersion:
    """Mark ``version`` Approved and make it champion. A gate failure needs ``force``.

    The registry announces one "approved" state change event.
    """
    found = registry.get_version(name, version)
    if found.gate_status != "passed" and not force:
        raise RegistryError(
            f"{name} v{version} failed its gate ({found.gate_status}); use --force to approve it"
        )
    registry.set_tags(name, version, {APPROVAL_TAG: APPROVED})
    return announce(registry, "approved", _make_champion(registry, name, version))


def reject(registry: ModelRegistry, name: str, version: int) -> ModelVersion:
    """Mark ``version`` Rejected and drop its challenger alias. The champion cannot be rejected.

    The registry announces one "rejected" state change event.
    """
    found = registry.get_version(name, version)
    if CHAMPION in found.aliases:
        raise RegistryError(
            f"{name} v{version} is the champion; promote another version before rejecting it"
        )
    registry.set_tags(name, version, {APPROVAL_TAG: REJECTED})
    if CHALLENGER in found.aliases:
        registry.delete_alias(name, CHALLENGER)
    return announce(registry, "rejected", registry.get_version(name, version))


def promote(registry: ModelRegistry, name: str, version: int) -> ModelVersion:
    """Point ``champion`` at an Approved ``version`` (also a rollback to an older one).

    The registry announces one "promoted" state change event.
    """
    return announce(registry, "promoted", _make_champion(registry, name, version))


def _make_champion(registry: ModelRegistry, name: str, version: int) -> ModelVersion:
    found = registry.get_version(name, version)
    if found.approval != APPROVED:
        raise RegistryError(
            f"{name} v{version} is {found.approval}; only Approved versions can be champion "
            f"(run `driftloop models approve {version}`)"
        )
    registry.set_alias(name, CHAMPION, version)
    if CHALLENGER in found.aliases:
        registry.delete_alias(name, CHALLENGER)
    return registry.get_version(name, version)
