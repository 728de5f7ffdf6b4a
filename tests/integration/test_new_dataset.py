"""A dataset that is not Telco, as a new user brings it: `init --from-csv`, left-out columns, a
threshold chosen on validation data, and no silent failure on the way to a served model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop.backends.local.registry import MlflowRegistry
from driftloop.config import load_settings
from driftloop.registry.base import THRESHOLD_TAG
from driftloop.serving.app import ServerState, create_app
from driftloop.serving.endpoint_config import EndpointConfig, Variant
from tests.workspaces import endpoint_store

pytestmark = pytest.mark.slow
LEFT_OUT = 'drop_columns = ["chargeback_filed", "month"]'


def _rare_positives(path: Path, rows: int = 3000, seed: int = 5) -> Path:
    """5 % positives, a numeric, a categorical and a 0/1 column, an id, a label-leaking column
    and a calendar column."""
    rng = np.random.default_rng(seed)
    usage = rng.gamma(2.0, 10.0, rows)
    plan = rng.choice(["basic", "plus", "pro"], rows)
    flag = rng.integers(0, 2, rows)
    logit = -4.2 + 0.06 * usage + 0.8 * (plan == "basic") + 0.5 * flag
    fraud = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "account": [f"acc-{k:05d}" for k in range(rows)],
            "usage": usage.round(2),
            "plan": plan,
            "flag": flag,
            "chargeback_filed": fraud,  # known only after the fact: leaks the label
            "month": rng.choice(["2024-01", "2024-02"], rows),
            "fraud": fraud,
        }
    )
    frame.to_csv(path, index=False)
    return path


def _edit(replacements: dict[str, str]) -> None:
    """Change driftloop.toml as a user would; one fast candidate keeps the test short."""
    one = 'candidates = ["logistic_regression"]'
    replacements = {
        **replacements,
        'candidates = ["logistic_regression", "hist_gradient_boosting"]': one,
    }
    text = Path("driftloop.toml").read_text()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    Path("driftloop.toml").write_text(text)


def test_a_new_csv_gets_a_fitted_config_and_a_useful_threshold(home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    source = _rare_positives(home.parent / "fraud.csv")
    assert cli("init", "--from-csv", str(source)).code == 2  # --target is needed
    result = cli("init", "--from-csv", str(source), "--target", "fraud")
    assert result.code == 0, result.err
    settings = load_settings(Path("driftloop.toml"))
    data = settings.data
    assert (data.target, data.positive_label, data.id_columns) == ("fraud", "1", ["account"])
    assert data.column_types == {"flag": "categorical", "chargeback_filed": "categorical"}
    assert settings.training.threshold == "f1" and settings.gate.min_metrics == {"roc_auc": 0.6}
    assert settings.rules[0]["name"] == "retrain-on-violations"

    _edit({"drop_columns = []": LEFT_OUT})
    assert cli("preprocess", "--input-csv", str(source)).code == 0
    result = cli("train")
    assert result.code == 0, result.out + result.err
    registry = MlflowRegistry(load_settings(Path("driftloop.toml")).workspace)
    version = registry.get_by_alias("churn-model", "champion")
    assert version is not None
    threshold = float(version.tags[THRESHOLD_TAG])
    assert 0.02 < threshold < 0.5  # rare positives: a threshold of 0.5 would flag nobody
    assert float(version.tags["metric.f1"]) > 0.1
    spec = registry.load_model("churn-model", version.version)[:-1].feature_names_in_
    assert "chargeback_filed" not in spec and "month" not in spec and "usage" in spec


def test_silent_failures_now_say_why(home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    source = _rare_positives(home.parent / "fraud.csv")
    assert cli("init", "--from-csv", str(source), "--target", "fraud").code == 0
    _edit({"roc_auc = 0.6": "roc_auc = 0.99", "drop_columns = []": LEFT_OUT})
    assert cli("preprocess", "--input-csv", str(source)).code == 0
    failed = cli("train")
    assert failed.code == 11
    assert "failed its gate" in failed.err and "roc_auc" in failed.err
    assert "gate.min_metrics" in failed.err

    created = cli("endpoints", "create", "fraud")
    assert created.code == 4
    assert "variant 'AllTraffic'" in created.err and "no alias 'champion'" in created.err
    assert not (home / "endpoints").exists() or not list((home / "endpoints").iterdir())

    shadow = cli("endpoints", "create", "fraud", "-v", "A=1", "--shadow", "S=challenger")
    assert shadow.code == 4 and "variant 'S'" in shadow.err

    # A config written by other means: `serve` refuses it before starting any worker.
    config = EndpointConfig(
        name="fraud",
        model_name="churn-model",
        variants=(Variant(name="AllTraffic", model="champion"),),
    )
    endpoint_store(load_settings(Path("driftloop.toml")).workspace).save(config)
    served = cli("serve", "fraud", "--port", "1")
    assert served.code == 4 and "no alias 'champion'" in served.err


def test_ping_says_why_a_worker_is_not_ready() -> None:
    from starlette.testclient import TestClient

    state = ServerState()
    client = TestClient(create_app(state, load_wait_s=0.01))
    loading = client.get("/ping")
    assert loading.status_code == 503 and "still loading" in loading.text
    state.failed("model 'm' has no alias 'champion'")
    failed = client.get("/ping")
    assert failed.status_code == 503
    assert failed.json()["error"]["message"].endswith("has no alias 'champion'")
    answer = client.post(
        "/invocations", content=b"{}", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 503 and "failed to load" in answer.json()["error"]["message"]
    asyncio.run(asyncio.sleep(0))
