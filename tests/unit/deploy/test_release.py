"""The pieces of a release: which version is picked, when an endpoint already serves it, the
smoke rows, and what counts as a good answer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from driftloop.backends.catalog import Backends
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.backends.local.snapshots import FolderSnapshotStore
from driftloop.config import load_settings
from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.deploy import release
from driftloop.deploy.release import check_answer, latest_approved, serves_only, smoke_body
from driftloop.errors import ModelError, ModelNotFound, NotFoundError
from driftloop.registry.base import (
    APPROVAL_TAG,
    APPROVED,
    PENDING,
    REJECTED,
    TRAIN_SNAPSHOT_TAG,
    ModelVersion,
)
from driftloop.serving.endpoint_config import EndpointConfig, Shadow, Variant
from driftloop.workspace import Workspace
from tests.sagemaker import RUN

SPEC = TabularSpec(
    columns=(
        ColumnSpec("id", "categorical", role="id"),
        ColumnSpec("tenure", "numeric"),
        ColumnSpec("plan", "categorical"),
        ColumnSpec("churn", "categorical", role="target"),
    ),
    target="churn",
    positive_label="Yes",
)


def _answer(*probabilities: object, version: str | None = "2") -> bytes:
    predictions = [{"probability": p, "label": "No"} for p in probabilities]
    return orjson.dumps({"predictions": predictions, "model_version": version})


def test_the_newest_approved_version_is_picked(tmp_path: Path, saved_model: str) -> None:
    registry = MlflowRegistry(Workspace(tmp_path / "ws"))
    for status in (APPROVED, APPROVED, PENDING, REJECTED):
        registry.create_version("m", saved_model, RUN, {APPROVAL_TAG: status})
    assert latest_approved(registry, "m").version == 2
    registry.set_tags("m", 4, {APPROVAL_TAG: APPROVED})
    assert latest_approved(registry, "m").version == 4
    for version in (1, 2, 4):
        registry.set_tags("m", version, {APPROVAL_TAG: REJECTED})
    with pytest.raises(ModelNotFound, match="m has no Approved version to deploy"):
        latest_approved(registry, "m")
    with pytest.raises(ModelNotFound, match="other has no Approved version"):  # no such model
        latest_approved(registry, "other")


def test_an_endpoint_serves_a_version_only_when_all_its_traffic_names_it_by_number() -> None:
    def config(*variants: Variant, shadow: Shadow | None = None) -> EndpointConfig:
        return EndpointConfig(name="e", model_name="m", variants=variants, shadow=shadow)

    assert serves_only(config(Variant(name="A", model="2")), 2)
    assert serves_only(
        config(Variant(name="A", model="2"), Variant(name="B", model="1", weight=0)), 2
    )
    assert not serves_only(config(Variant(name="A", model="champion")), 2)  # may have moved
    assert not serves_only(config(Variant(name="A", model="2"), Variant(name="B", model="1")), 2)
    assert not serves_only(
        config(Variant(name="A", model="2"), shadow=Shadow(name="S", model="3")), 2
    )


def test_smoke_rows_are_features_of_the_training_snapshot_complete_rows_first(
    tmp_path: Path,
) -> None:
    store = FolderSnapshotStore(tmp_path)
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "tenure": [np.nan, 5.0, 7.0, 9.0],
            "plan": ["x", "y", None, "x"],
            "churn": ["No", "Yes", "No", "No"],
        }
    )
    digest = store.put(frame, SPEC, name="train").digest
    version = ModelVersion("m", 1, "run", "src", 0, tags={TRAIN_SNAPSHOT_TAG: digest})
    body, rows = smoke_body(store, version, 3)
    assert rows == 3
    assert orjson.loads(body) == [
        {"tenure": 5.0, "plan": "y"},
        {"tenure": 9.0, "plan": "x"},
        {"tenure": None, "plan": "x"},
    ]
    assert smoke_body(store, version, 10)[1] == 4
    untracked = ModelVersion("m", 2, "run", "src", 0)
    with pytest.raises(NotFoundError, match="m v2 has no training snapshot recorded"):
        smoke_body(store, untracked, 3)


def test_a_good_answer_gives_its_probabilities_and_version() -> None:
    assert check_answer(_answer(0.0, 0.25, 1), 3) == ([0.0, 0.25, 1.0], "2")
    assert check_answer(b"[0.5, 0.75]", 2) == ([0.5, 0.75], None)  # a plain list of numbers


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>oops</html>", "the answer is not JSON"),
        (b'{"error": {"code": "model_error"}}', "the answer holds no list of predictions"),
        (_answer(0.5), "the answer holds 1 prediction for 2 rows"),
        (_answer(0.5, None), "row 2's probability is null, not a number in [0, 1]"),
        (_answer(-0.1, 0.5), "row 1's probability is -0.1, not a number in [0, 1]"),
        (_answer(0.5, True), "row 2's probability is True"),
        (_answer("0.5", 0.5), "row 1's probability is '0.5'"),
        (b'{"predictions": [0.5, Infinity]}', "the answer is not JSON"),
    ],
    ids=["html", "error", "short", "nan", "negative", "bool", "text", "infinite"],
)
def test_a_wrong_answer_is_a_model_error(body: bytes, problem: str) -> None:
    with pytest.raises(ModelError, match=re.escape(problem)):
        check_answer(body, 2)


def test_the_smoke_test_asks_again_until_the_deployed_config_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server still on the deployment's previous config (v2 already, under the canary's
    variant name) is asked again until a variant of the deployed config answers."""
    answers = iter(["Candidate", "Candidate", "AllTraffic"])
    asked: list[str] = []

    def invoke(_settings: object, _url: object, _request: object) -> tuple[dict[str, str], bytes]:
        asked.append(variant := next(answers))
        return {"InvokedProductionVariant": variant}, _answer(0.25)

    monkeypatch.setattr(release, "invoke_endpoint", invoke)
    settings = load_settings(home=tmp_path / ".driftloop")
    now = [0.0]
    smoke = release.smoke_test(
        settings, Backends.from_settings(settings), "churn", 2, b"[]", 1,
        "http://127.0.0.1:9", clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s),
        variants=frozenset({"AllTraffic"}),
    )  # fmt: skip
    assert asked == ["Candidate", "Candidate", "AllTraffic"]
    assert (smoke.variant, smoke.model_version) == ("AllTraffic", "2")


def test_the_smoke_test_gives_up_on_a_server_that_never_takes_the_deployed_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def invoke(_settings: object, _url: object, _request: object) -> tuple[dict[str, str], bytes]:
        return {"InvokedProductionVariant": "Candidate"}, _answer(0.25)

    monkeypatch.setattr(release, "invoke_endpoint", invoke)
    settings = load_settings(home=tmp_path / ".driftloop")
    now = [0.0]
    with pytest.raises(ModelError, match="still answers with v2 from Candidate"):
        release.smoke_test(
            settings, Backends.from_settings(settings), "churn", 2, b"[]", 1,
            "http://127.0.0.1:9", clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s), variants=frozenset({"AllTraffic"}),
        )  # fmt: skip
