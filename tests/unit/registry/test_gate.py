from driftloop.config import GateSettings
from driftloop.registry.gate import GateResult, champion_check, floor_checks
from driftloop.training.metrics import better


def test_floors_and_ceilings() -> None:
    settings = GateSettings(min_metrics={"roc_auc": 0.8, "brier": 0.2})
    checks = floor_checks({"roc_auc": 0.79, "brier": 0.15}, settings)
    assert [c.passed for c in checks] == [False, True]
    assert "roc_auc 0.7900 >= 0.8 required" in checks[0].detail
    assert not GateResult(tuple(checks)).passed
    assert GateResult(tuple(checks)).failures == [checks[0].detail]


def test_champion_margin() -> None:
    assert champion_check("roc_auc", 0.85, 0.84, 1, 0.01).passed
    assert not champion_check("roc_auc", 0.845, 0.84, 1, 0.01).passed
    assert "vs champion v3" in champion_check("roc_auc", 0.8, 0.9, 3, 0.0).detail


def test_better_respects_direction() -> None:
    assert better("log_loss", 0.40, 0.42, 0.01)
    assert not better("log_loss", 0.415, 0.42, 0.01)
    assert better("roc_auc", 0.84, 0.84)
    assert not better("roc_auc", 0.83, 0.84)
