"""The HTTP layer and data plane in-process, around fake models (Starlette's test client)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from driftloop.capture.writer import CaptureWriter
from driftloop.serving.app import ServerState, create_app
from driftloop.serving.dataplane import DataPlane
from driftloop.serving.endpoint_config import Capture, Fault
from driftloop.serving.metrics import EndpointMetrics
from driftloop.serving.routing import RoutingTable
from tests.serving_fakes import Failing, Summing, route, table

ROW = {"x": 10, "y": 20, "c": "a"}
JSON = {"content-type": "application/json"}


def _client(tbl: RoutingTable, tmp_path: Path, **app_args: object) -> tuple[TestClient, DataPlane]:
    plane = DataPlane(
        tbl,
        EndpointMetrics(tbl.endpoint, None),
        CaptureWriter(tmp_path / "capture", tbl.endpoint),
        max_rows=50,
        timeout_s=app_args.pop("timeout_s", 5.0),  # type: ignore[arg-type]
    )
    app = create_app(ServerState(plane), **app_args)  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False), plane


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"endpoint": "fake-endpoint", **labels}) or 0.0


def _captured(tmp_path: Path, variant: str) -> list[dict]:
    files = sorted((tmp_path / "capture" / "fake-endpoint" / variant).rglob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_ping_is_503_until_models_load(tmp_path: Path) -> None:
    state = ServerState()
    client = TestClient(create_app(state, load_wait_s=0.05))
    assert client.get("/ping").status_code == 503
    assert client.post("/invocations", json=ROW).status_code == 503
    state.ready(_client(table(route("A", Summing())), tmp_path)[1])
    ping = client.get("/ping")
    assert ping.status_code == 200 and ping.content == b""


def test_answer_headers_and_capture(tmp_path: Path) -> None:
    client, _ = _client(table(route("A", Summing(), version="7")), tmp_path)
    response = client.post(
        "/endpoints/fake-endpoint/invocations",
        content=orjson.dumps([ROW, {"x": 60, "y": 10, "c": "b"}]),
        headers={
            **JSON,
            "X-Amzn-SageMaker-Inference-Id": "inf-1",
            "X-Amzn-SageMaker-Custom-Attributes": "trace=1",
        },
    )
    assert response.status_code == 200
    assert response.headers["x-amzn-invoked-production-variant"] == "A"
    assert response.headers["x-amzn-sagemaker-custom-attributes"] == "trace=1"
    assert response.json() == {
        "predictions": [{"probability": 0.3, "label": "no"}, {"probability": 0.7, "label": "yes"}],
        "model_version": "7",
        "variant": "A",
    }
    (record,) = _captured(tmp_path, "A")
    assert record["eventMetadata"]["inferenceId"] == "inf-1"
    assert record["eventVersion"] == "0"
    data = record["captureData"]
    assert data["endpointInput"]["encoding"] == "JSON" and data["endpointInput"]["mode"] == "INPUT"
    assert json.loads(data["endpointOutput"]["data"])["model_version"] == "7"


def test_csv_answer_when_accepted(tmp_path: Path) -> None:
    client, _ = _client(table(route("A", Summing())), tmp_path)
    response = client.post(
        "/invocations",
        content=b"10,20,a\n",
        headers={"content-type": "text/csv", "accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.text == "0.300000,no,1,A\n"


def test_error_envelope_and_boto_error_type(tmp_path: Path) -> None:
    client, _ = _client(table(route("A", Summing())), tmp_path)
    before = _metric("driftloop_invocation_4xx_errors_total", variant="A")
    response = client.post("/invocations", content=b'{"x": 1, "y": "big", "c": "a"}', headers=JSON)
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationError"
    error = response.json()["error"]
    assert error["code"] == "invalid_data"
    assert error["message"] == "row 1, field 'y': expected a number, got 'big'"
    assert error["details"] == {"field": "y", "row": 1}
    assert _metric("driftloop_invocation_4xx_errors_total", variant="A") == before + 1
    assert (
        client.post("/invocations", content=b"x", headers={"content-type": "image/png"}).status_code
        == 415
    )
    assert client.post("/endpoints/other/invocations", json=ROW).status_code == 404
    assert _captured(tmp_path, "A") == []  # nothing answered, nothing captured


def test_oversized_body_and_too_many_rows_are_413(tmp_path: Path) -> None:
    client, _ = _client(table(route("A", Summing())), tmp_path, max_body_bytes=1000)
    response = client.post("/invocations", content=orjson.dumps([ROW] * 100), headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert "limit is 1000" in response.json()["error"]["message"]
    client, _ = _client(table(route("A", Summing())), tmp_path)
    too_many = client.post("/invocations", content=orjson.dumps([ROW] * 51), headers=JSON)
    assert too_many.status_code == 413
    assert "51 rows" in too_many.json()["error"]["message"]


def test_api_key(tmp_path: Path) -> None:
    client, _ = _client(table(route("A", Summing())), tmp_path, api_key="s3cret")
    assert client.get("/ping").status_code == 200  # health checks need no key
    assert client.post("/invocations", json=ROW).status_code == 401
    assert client.get("/metrics").status_code == 401
    ok = client.post("/invocations", json=ROW, headers={"authorization": "Bearer s3cret"})
    assert ok.status_code == 200


def test_model_errors_are_500_and_counted(tmp_path: Path) -> None:
    client, _ = _client(table(route("A", Failing())), tmp_path)
    before = _metric("driftloop_invocation_model_errors_total", variant="A")
    response = client.post("/invocations", json=ROW)
    assert response.status_code == 500
    assert response.headers["x-amzn-errortype"] == "ModelError"
    assert "exploded" not in response.text  # internals never leak
    assert _metric("driftloop_invocation_model_errors_total", variant="A") == before + 1


def test_slow_model_gets_504(tmp_path: Path) -> None:
    slow = route("A", Summing(), fault=Fault(delay_ms=300))
    client, _ = _client(table(slow), tmp_path, timeout_s=0.05)
    response = client.post("/invocations", json=ROW)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"


def test_weights_and_target_variant(tmp_path: Path) -> None:
    client, plane = _client(
        table(route("A", Summing(), weight=3), route("B", Summing(), weight=1)), tmp_path
    )
    picks = Counter(plane.table.pick().name for _ in range(4000))
    assert 0.72 < picks["A"] / 4000 < 0.78
    targeted = client.post(
        "/invocations", json=ROW, headers={"x-amzn-sagemaker-target-variant": "B"}
    )
    assert targeted.headers["x-amzn-invoked-production-variant"] == "B"
    unknown = client.post(
        "/invocations", json=ROW, headers={"x-amzn-sagemaker-target-variant": "Z"}
    )
    assert unknown.status_code == 400
    assert "target variant 'Z'" in unknown.json()["error"]["message"]


def test_shadow_is_captured_never_returned_and_failures_do_not_leak(tmp_path: Path) -> None:
    shadowed = table(route("A", Summing()), shadow=route("S", Summing(), version="9"))
    client, _ = _client(shadowed, tmp_path)
    response = client.post("/invocations", json=ROW)
    assert response.json()["variant"] == "A"
    (shadow_record,) = _captured(tmp_path, "S")
    assert (
        json.loads(shadow_record["captureData"]["endpointOutput"]["data"])["model_version"] == "9"
    )

    broken = table(route("A", Summing()), shadow=route("S2", Failing()))
    client, _ = _client(broken, tmp_path / "b")
    before = _metric("driftloop_shadow_errors_total", variant="S2")
    assert client.post("/invocations", json=ROW).status_code == 200
    assert _metric("driftloop_shadow_errors_total", variant="S2") == before + 1


def test_capture_modes_and_sampling(tmp_path: Path) -> None:
    only_input = table(route("A", Summing()), capture=Capture(modes=("Input",)))
    client, _ = _client(only_input, tmp_path)
    client.post("/invocations", json=ROW)
    (record,) = _captured(tmp_path, "A")
    assert set(record["captureData"]) == {"endpointInput"}
    off = table(route("A", Summing()), capture=Capture(sampling_percent=0))
    client, _ = _client(off, tmp_path / "off")
    client.post("/invocations", json=ROW)
    assert _captured(tmp_path / "off", "A") == []


def test_unseen_categories_are_answered_and_counted(tmp_path: Path) -> None:
    client, _ = _client(table(route("A", Summing())), tmp_path)
    before = _metric("driftloop_unseen_category_values_total", variant="A", feature="c")
    response = client.post("/invocations", json={**ROW, "c": "never-seen"})
    assert response.status_code == 200
    assert _metric("driftloop_unseen_category_values_total", variant="A", feature="c") == before + 1
    text = client.get("/metrics").text
    assert 'driftloop_invocations_total{endpoint="fake-endpoint",variant="A"}' in text
    assert "driftloop_model_latency_seconds_bucket" in text


def test_minute_datapoints_use_cloudwatch_names(tmp_path: Path) -> None:
    client, plane = _client(table(route("A", Summing())), tmp_path)
    client.post("/invocations", json=ROW)
    client.post("/invocations", json={"x": 1})
    points = {p.metric: p for p in plane.metrics.take()}
    assert points["Invocations"].sum == 2
    assert points["Invocation4XXErrors"].sum == 1 and points["Invocation4XXErrors"].count == 2
    assert points["ModelLatency"].unit == "Microseconds" and points["ModelLatency"].count == 1
    assert points["Invocations"].dimensions == {"EndpointName": "fake-endpoint", "VariantName": "A"}


def test_request_reaching_a_loading_worker_waits_for_it(tmp_path: Path) -> None:
    state = ServerState()
    plane = _client(table(route("A", Summing())), tmp_path)[1]
    with TestClient(create_app(state, load_wait_s=10)) as client:
        timer = threading.Timer(0.3, lambda: client.portal.call(state.ready, plane))  # type: ignore[union-attr]
        timer.start()
        started = time.monotonic()
        response = client.post("/invocations", json=ROW)
        timer.join()
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.25
