"""The promotion gate: metric floors, and beating the champion on the same holdout."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from driftloop.config import GateSettings
from driftloop.training.metrics import LOWER_IS_BETTER, better


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateResult:
    """Every check the gate made, and whether all of them passed."""

    checks: tuple[Check, ...]
    champion_version: int | None = None

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[str]:
        return [check.detail for check in self.checks if not check.passed]

    def to_json(self) -> str:
        return json.dumps(
            {
                "passed": self.passed,
                "champion_version": self.champion_version,
                "checks": [asdict(c) for c in self.checks],
            }
        )


def floor_checks(metrics: dict[str, float], settings: GateSettings) -> list[Check]:
    """One check per configured floor (a ceiling for metrics where lower is better)."""
    checks = []
    for metric, bound in settings.min_metrics.items():
        value = metrics[metric]
        if metric in LOWER_IS_BETTER:
            ok, relation = value <= bound, "<="
        else:
            ok, relation = value >= bound, ">="
        checks.append(
            Check(f"floor:{metric}", ok, f"{metric} {value:.4f} {relation} {bound:g} required")
        )
    return checks


def champion_check(
    metric: str, candidate: float, champion: float, champion_version: int, margin: float
) -> Check:
    """Whether the candidate beats the champion's ``metric`` on the same holdout by ``margin``."""
    ok = better(metric, candidate, champion, margin)
    detail = (
        f"{metric} {candidate:.4f} vs champion v{champion_version} {champion:.4f} "
        f"(margin {margin:g})"
    )
    return Check(f"champion:{metric}", ok, detail)
