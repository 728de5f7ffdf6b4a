"""The API key is compared in constant time and never logged; models never load from a request."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from driftloop.capture.writer import CaptureWriter
from driftloop.errors import ModelNotFound
from driftloop.serving import app as app_module
from driftloop.serving.app import ServerState, create_app
from driftloop.serving.dataplane import DataPlane
from driftloop.serving.metrics import EndpointMetrics
from driftloop.serving.models import resolve_version
from tests.serving_fakes import Summing, route, table

KEY = "s3cret-key-7f4d"
WRONG = "guess-9a1c-not-the-key"


def _client(tmp_path: Path) -> TestClient:
    tbl = table(route("A", Summing()))
    plane = DataPlane(
        tbl,
        EndpointMetrics(tbl.endpoint, None),
        CaptureWriter(tmp_path / "capture", tbl.endpoint),
        max_rows=50,
        timeout_s=5.0,
    )
    return TestClient(create_app(ServerState(plane), api_key=KEY), raise_server_exceptions=False)


def test_a_wrong_key_leaves_no_key_text_in_logs_or_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[Any, Any]] = []
    real = app_module.hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", recording)
    client = _client(tmp_path)
    caplog.set_level(logging.DEBUG)
    row = {"x": 1, "y": 2, "c": "a"}
    wrong = client.post("/invocations", json=row, headers={"authorization": f"Bearer {WRONG}"})
    missing = client.post("/invocations", json=row)
    right = client.post("/invocations", json=row, headers={"authorization": f"Bearer {KEY}"})
    assert (wrong.status_code, missing.status_code, right.status_code) == (401, 401, 200)
    assert len(compared) == 3  # every check went through the constant-time comparison
    for answer in (wrong, missing):
        assert KEY not in answer.text and WRONG not in answer.text
    assert KEY not in caplog.text and WRONG not in caplog.text


class _Registry:
    def get_by_alias(self, model_name: str, alias: str) -> None:
        return None


@pytest.mark.parametrize(
    "ref", ["/opt/ml/model", "../../models/x", "file:///tmp/model", "s3://b/k"]
)
def test_a_model_reference_is_a_version_or_an_alias_never_a_path(ref: str) -> None:
    with pytest.raises(ModelNotFound, match="has no alias"):
        resolve_version(_Registry(), "churn", ref)  # type: ignore[arg-type]


def test_a_request_cannot_name_a_model_path(tmp_path: Path) -> None:
    client = _client(tmp_path)
    answer = client.post(
        "/invocations",
        json={"x": 1, "y": 2, "c": "a"},
        headers={"authorization": f"Bearer {KEY}", "x-amzn-sagemaker-target-variant": "/opt/ml"},
    )
    assert answer.status_code == 400
    assert "target variant '/opt/ml' is not on endpoint" in answer.json()["error"]["message"]
