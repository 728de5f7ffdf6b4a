"""The lean request path answers exactly as the framework's route did, and a full disk under
capture costs the caller nothing but is counted."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from driftloop.capture.writer import CaptureWriter
from driftloop.serving.app import ServerState, create_app
from driftloop.serving.dataplane import DataPlane
from driftloop.serving.endpoint_config import Capture
from driftloop.serving.metrics import EndpointMetrics
from tests.serving_fakes import Failing, Summing, route, table

ROWS = orjson.dumps([{"x": 10, "y": 20, "c": "a"}, {"x": 60, "y": 10, "c": "b"}])
REQUESTS = [
    ("/invocations", {"content-type": "application/json"}, ROWS),
    ("/invocations", {"content-type": "text/csv", "accept": "text/csv"}, b"10,20,a\n"),
    (
        "/endpoints/fake-endpoint/invocations",
        {
            "content-type": "application/json",
            "x-amzn-sagemaker-custom-attributes": "trace=1",
            "x-amzn-sagemaker-target-variant": "A",
        },
        ROWS,
    ),
    ("/invocations", {"content-type": "application/json"}, b'{"x": "big"}'),  # 400
    ("/invocations", {"content-type": "image/png"}, b"x"),  # 415
    ("/endpoints/other/invocations", {"content-type": "application/json"}, ROWS),  # 404
    ("/invocations", {"content-type": "application/json"}, b"[" + b"1," * 600 + b"1]"),  # 413
]
KEPT = ("content-type", "content-length", "x-amzn-errortype", "x-amzn-invoked-production-variant")


def _plane(tmp_path: Path, predictor: object, capture: bool = False) -> DataPlane:
    tbl = table(route("A", predictor), capture=Capture(enabled=capture, sampling_percent=100))
    writer = CaptureWriter(tmp_path / "capture", tbl.endpoint)
    return DataPlane(tbl, EndpointMetrics(tbl.endpoint, None), writer, max_rows=50, timeout_s=5)


def _seen(response: object) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k in KEPT}  # type: ignore[attr-defined]
    return response.status_code, headers, response.content  # type: ignore[attr-defined]


@pytest.mark.parametrize(("path", "headers", "body"), REQUESTS)
def test_the_direct_path_answers_as_the_routed_one(
    tmp_path: Path, path: str, headers: dict[str, str], body: bytes
) -> None:
    app = create_app(ServerState(_plane(tmp_path, Summing())), max_body_bytes=1000)
    direct = TestClient(app)  # the invocation never reaches Starlette's router
    routed = TestClient(app, root_path="/behind-proxy")  # a root path: Starlette's route
    first = _seen(direct.post(path, content=body, headers=headers))
    second = _seen(routed.post(path, content=body, headers=headers))
    assert first == second
    assert first[0] in (200, 400, 404, 413, 415)


def test_other_methods_and_paths_still_go_through_the_router(tmp_path: Path) -> None:
    client = TestClient(create_app(ServerState(_plane(tmp_path, Summing()))))
    assert client.get("/invocations").status_code == 405
    assert client.post("/endpoints/a/b/invocations", content=ROWS).status_code == 404
    assert client.post("/endpoints//invocations", content=ROWS).status_code == 404


def test_an_unexpected_failure_is_a_bare_500(tmp_path: Path) -> None:
    plane = _plane(tmp_path, Summing())
    plane.table = None  # type: ignore[assignment]  # a bug inside the data plane
    client = TestClient(create_app(ServerState(plane)), raise_server_exceptions=False)
    response = client.post("/invocations", content=ROWS)
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "internal error",
        "details": {},
    }
    assert response.headers["x-amzn-errortype"] == "InternalFailure"
    model = TestClient(create_app(ServerState(_plane(tmp_path, Failing()))))
    assert model.post("/invocations", content=ROWS).headers["x-amzn-errortype"] == "ModelError"


def test_a_full_disk_answers_and_counts_the_lost_capture(tmp_path: Path) -> None:
    plane = _plane(tmp_path, Summing(), capture=True)
    assert plane.capture is not None
    client = TestClient(create_app(ServerState(plane)))
    assert client.post("/invocations", content=ROWS).status_code == 200  # opens the file
    (_, fd) = plane.capture._open["A"]
    saved, full = os.dup(fd), os.open("/dev/full", os.O_WRONLY)
    labels = {"endpoint": "fake-endpoint", "variant": "A"}
    before = REGISTRY.get_sample_value("driftloop_capture_lost_records_total", labels) or 0.0
    try:
        os.dup2(full, fd)  # every write now fails with ENOSPC, from the kernel
        answers = [client.post("/invocations", content=ROWS).status_code for _ in range(3)]
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(full)
    assert answers == [200, 200, 200]
    lost = REGISTRY.get_sample_value("driftloop_capture_lost_records_total", labels)
    assert lost == before + 3
    assert client.post("/invocations", content=ROWS).status_code == 200
    assert plane.capture.lost == {}
    lines = [p.read_bytes().count(b"\n") for p in (tmp_path / "capture").rglob("*.jsonl")]
    assert lines == [2]  # before and after the outage
    plane.capture.close()
