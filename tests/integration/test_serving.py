"""The endpoint as a real multi-worker server on loopback, with a model trained on the real data."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import boto3
import mlflow
import numpy as np
import orjson
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.backends.local.snapshots import FolderSnapshotStore
from driftloop.capture.labels import read_labels
from driftloop.config import Settings, load_settings
from driftloop.data.preprocess import preprocess
from driftloop.data.readers import read_table
from driftloop.data.spec import TabularSpec, apply_spec
from driftloop.flows import train_and_register
from driftloop.registry.lifecycle import register_and_gate
from driftloop.serving.endpoint_config import EndpointConfig, Fault, Variant
from tests.servers import DRIFTLOOP, SERVE, Server, post, start_server
from tests.waiting import wait_until
from tests.workspaces import endpoint_store

pytestmark = pytest.mark.slow
FEATURES_JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def workspace(telco_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Real Telco data, v1 = best candidate (champion), v2 = the other candidate."""
    home = tmp_path_factory.mktemp("serving") / ".driftloop"
    settings = load_settings(home=home)
    ws = settings.workspace
    preprocess(telco_csv, ws.prepared, settings.data, FolderSnapshotStore(ws.snapshots))
    outcome = train_and_register(settings)
    other = next(c for c in outcome.candidates if c is not outcome.best)
    register_and_gate(MlflowRegistry(ws), other, outcome.val, settings, "file:///none")
    variants = (Variant(name="AllTraffic", model="1"),)
    endpoint_store(ws).save(
        EndpointConfig(name="churn", model_name="churn-model", variants=variants)
    )
    return settings


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "DRIFTLOOP_HOME": str(settings.home),
        "DRIFTLOOP_SERVING__METRICS_FLUSH_S": "0.5",
        "DRIFTLOOP_SERVING__CONFIG_POLL_S": "0.2",
        **extra,
    }


@pytest.fixture(scope="module")
def server(workspace: Settings, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    log = tmp_path_factory.mktemp("logs") / "server.log"
    running = start_server(["churn", "--workers", "2"], _env(workspace), log)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def _rows(telco_csv: Path) -> pd.DataFrame:
    return pd.read_csv(telco_csv, dtype=str, keep_default_na=False).drop(
        columns=["customerID", "Churn"]
    )


def test_unchanged_boto3_client(server: Server, telco_csv: Path) -> None:
    client = boto3.client(
        "sagemaker-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    body = _rows(telco_csv).head(3).to_csv(index=False, header=False)
    answer = client.invoke_endpoint(
        EndpointName="churn",
        Body=body,
        ContentType="text/csv",
        Accept="text/csv",
        TargetVariant="AllTraffic",
        InferenceId="boto-1",
        CustomAttributes="trace=abc",
    )
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["CustomAttributes"] == "trace=abc"
    lines = answer["Body"].read().decode().splitlines()
    assert len(lines) == 3 and all(line.endswith(",1,AllTraffic") for line in lines)
    with pytest.raises(ClientError) as raised:
        client.invoke_endpoint(
            EndpointName="churn", Body=b'{"tenure": 1}', ContentType="application/json"
        )
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "missing column(s)" in raised.value.response["Error"]["Message"]


def test_every_real_row_matches_the_sklearn_pipeline(server: Server, telco_csv: Path) -> None:
    rows = _rows(telco_csv)
    uri = "models:/churn-model/1"
    spec = TabularSpec.from_dict(mlflow.models.get_model_info(uri).metadata["driftloop_spec"])
    oracle = mlflow.sklearn.load_model(uri)
    expected = oracle.predict_proba(apply_spec(read_table(telco_csv), spec)[spec.features])[:, 1]
    got = []
    for start in range(0, len(rows), 1000):
        chunk = rows.iloc[start : start + 1000].to_csv(index=False).encode()
        status, _, body = post(f"{server.url}/invocations", chunk, {"content-type": "text/csv"})
        assert status == 200, body
        got += [p["probability"] for p in orjson.loads(body)["predictions"]]
    assert len(got) == len(expected) == 7043
    assert float(np.max(np.abs(np.array(got) - expected))) <= 1e-6


def test_config_change_under_load_drops_no_request(
    server: Server, workspace: Settings, telco_csv: Path
) -> None:
    body = _rows(telco_csv).head(1).to_json(orient="records").encode()
    store = endpoint_store(workspace.workspace)
    original = store.get("churn")
    statuses: Counter[int] = Counter()
    variants: Counter[str] = Counter()
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            status, headers, _ = post(f"{server.url}/invocations", body, FEATURES_JSON)
            statuses[status] += 1
            variants[headers.get("x-amzn-invoked-production-variant", "?")] += 1

    def answered(variant: str, count: int) -> None:
        what = f"{count} answers from variant {variant}"
        wait_until(lambda: variants[variant] >= count, 20, interval_s=0.2, what=what)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(hammer) for _ in range(4)]
        try:
            answered("AllTraffic", 50)  # under load before the first change
            split = (
                Variant(name="AllTraffic", model="1", weight=1),
                Variant(name="Second", model="2", weight=1),
            )
            store.save(original.model_copy(update={"variants": split}))
            answered("Second", 50)
            only2 = (Variant(name="Only2", model="2"),)
            store.save(original.model_copy(update={"variants": only2}))
            answered("Only2", 50)
            back = variants["AllTraffic"]
            store.save(original)
            answered("AllTraffic", back + 50)
        finally:
            stop.set()
        for future in futures:
            future.result()
    assert set(statuses) == {200}, statuses
    assert variants["AllTraffic"] > 0 and variants["Second"] >= 50 and variants["Only2"] >= 50


def test_metrics_reach_prometheus_and_the_metric_store(
    server: Server, workspace: Settings, telco_csv: Path
) -> None:
    body = _rows(telco_csv).head(2).to_json(orient="records").encode()
    for _ in range(5):
        assert post(f"{server.url}/invocations", body, FEATURES_JSON)[0] == 200
    post(f"{server.url}/invocations", b"{", FEATURES_JSON)
    with urllib.request.urlopen(f"{server.url}/metrics") as response:
        text = response.read().decode()
    assert 'driftloop_invocations_total{endpoint="churn",variant="AllTraffic"}' in text
    assert "driftloop_invocation_4xx_errors_total" in text
    store = SqliteMetricStore(workspace.workspace.metrics_db)
    dims = {"EndpointName": "churn", "VariantName": "AllTraffic"}

    def invocations() -> float:
        return sum(p.sum for p in store.get_metric_data("AWS/SageMaker", "Invocations", dims))

    what = "6 invocations in the metric store"
    wait_until(lambda: invocations() >= 6, 10, interval_s=0.3, what=what)
    latency = store.get_metric_data("AWS/SageMaker", "ModelLatency", dims)
    assert latency and latency[-1].unit == "Microseconds" and latency[-1].max > 0


def _captured_ids(workspace: Settings, endpoint: str) -> set[str]:
    found = set()
    for path in (workspace.workspace.capture / endpoint).rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            found.add(json.loads(line)["eventMetadata"].get("inferenceId"))
    return found


def test_sigkill_loses_no_answered_capture(
    workspace: Settings, telco_csv: Path, tmp_path: Path
) -> None:
    store = endpoint_store(workspace.workspace)
    store.save(
        EndpointConfig(
            name="killme", model_name="churn-model", variants=(Variant(name="A", model="1"),)
        )
    )
    running = start_server(["killme", "--workers", "2"], _env(workspace), tmp_path / "kill.log")
    body = _rows(telco_csv).head(1).to_json(orient="records").encode()
    answered: list[str] = []
    statuses: Counter[int] = Counter()
    try:
        running.wait_ready()
        for _ in range(200):
            inference_id = uuid.uuid4().hex
            status, _, _ = post(
                f"{running.url}/invocations",
                body,
                {**FEATURES_JSON, "X-Amzn-SageMaker-Inference-Id": inference_id},
            )
            statuses[status] += 1
            if status == 200:
                answered.append(inference_id)
        workers = running.workers()
        assert workers
        for pid in workers:
            subprocess.run(["kill", "-9", str(pid)], check=False)
    finally:
        running.stop(signal.SIGKILL)
    assert statuses == {200: 200}, f"{statuses}: {running.log.read_text()[-3000:]}"
    assert set(answered) <= _captured_ids(workspace, "killme")


def _connections(server: Server) -> int:
    """Established connections the server's processes have accepted (read from Linux /proc)."""
    sockets = set()
    for pid in (server.process.pid, *server.workers()):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):  # closed meanwhile
                sockets.add(str(fd.readlink()))
    count = 0
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:] if table.is_file() else []:
            fields = line.split()  # local address, remote address, state ("01": established)
            port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
            if port == server.port and state == "01" and f"socket:[{inode}]" in sockets:
                count += 1
    return count


def test_sigterm_answers_in_flight_requests(
    workspace: Settings, telco_csv: Path, tmp_path: Path
) -> None:
    store = endpoint_store(workspace.workspace)
    slow = Variant(name="Slow", model="1", fault=Fault(delay_ms=2000))
    store.save(EndpointConfig(name="slow", model_name="churn-model", variants=(slow,)))
    running = start_server(["slow", "--workers", "1"], _env(workspace), tmp_path / "slow.log")
    body = _rows(telco_csv).head(1).to_json(orient="records").encode()
    try:
        running.wait_ready()
        idle = _connections(running)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(post, f"{running.url}/invocations", body, FEATURES_JSON)
            what = "the worker accepting the slow request (in flight for 2 s)"
            wait_until(lambda: _connections(running) > idle, 10, interval_s=0.02, what=what)
            started = time.monotonic()
            running.process.send_signal(signal.SIGTERM)
            status, _, answer = pending.result(timeout=30)
        assert status == 200, answer
        # uvicorn re-raises the signal once every request is answered and workers have stopped
        assert running.process.wait(30) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 30
    finally:
        running.stop(signal.SIGKILL)


def test_refuses_public_bind_without_api_key(workspace: Settings) -> None:
    done = subprocess.run(
        [DRIFTLOOP, "serve", "churn", "--host", "0.0.0.0", "--port", "1"],
        env={**_env(workspace), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr and "api_key" in done.stderr


def test_sagemaker_container_mode(workspace: Settings, telco_csv: Path, tmp_path: Path) -> None:
    model_dir = Path(
        mlflow.artifacts.download_artifacts(
            "models:/churn-model/1", dst_path=str(tmp_path / "model")
        )
    )
    env = {"SM_MODEL_DIR": str(model_dir), "DRIFTLOOP_HOME": str(tmp_path / "empty")}
    args = ["--host", "127.0.0.1", "--workers", "1"]
    running = start_server(args, env, tmp_path / "sm.log", command=[SERVE])
    try:
        running.wait_ready()
        body = _rows(telco_csv).head(2).to_csv(index=False, header=False).encode()
        status, headers, answer = post(
            f"{running.url}/invocations", body, {"content-type": "text/csv"}
        )
        assert status == 200, answer
        assert headers["x-amzn-invoked-production-variant"] == "AllTraffic"
        assert len(orjson.loads(answer)["predictions"]) == 2
    finally:
        assert running.stop() in (0, -signal.SIGTERM)


def test_batch_transform_command(workspace: Settings, telco_csv: Path, tmp_path: Path) -> None:
    rows = _rows(telco_csv)
    rows.to_csv(tmp_path / "in.csv", index=False)
    done = subprocess.run(
        [
            DRIFTLOOP,
            "batch-transform",
            "--endpoint-config",
            "churn",
            "--input",
            str(tmp_path / "in.csv"),
            "--output",
            str(tmp_path / "out.csv"),
            "--chunk-rows",
            "1500",
        ],
        env={**_env(workspace), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "scored 7043 records" in done.stdout
    scores = pd.read_csv(tmp_path / "out.csv", header=None, names=["probability", "label"])
    uri = "models:/churn-model/1"
    spec = TabularSpec.from_dict(mlflow.models.get_model_info(uri).metadata["driftloop_spec"])
    oracle = mlflow.sklearn.load_model(uri)
    expected = oracle.predict_proba(apply_spec(read_table(telco_csv), spec)[spec.features])[:, 1]
    assert len(scores) == 7043
    assert float(np.max(np.abs(scores["probability"].to_numpy() - expected))) <= 1e-6
    assert set(scores["label"]) == {"Yes", "No"}


def test_post_labels(server: Server, workspace: Settings) -> None:
    records = [
        {
            "groundTruthData": {"data": "Yes", "encoding": "CSV"},
            "eventMetadata": {"inferenceId": "a1"},
        },
        {
            "groundTruthData": {"data": "No", "encoding": "CSV"},
            "eventMetadata": {"inferenceId": "a2"},
        },
    ]
    status, _, body = post(f"{server.url}/labels", orjson.dumps(records), FEATURES_JSON)
    assert status == 200, body
    assert orjson.loads(body)["labels"] == 2
    assert read_labels(workspace.workspace, "churn") == {"a1": 1, "a2": 0}
    bad = [
        {
            "groundTruthData": {"data": "maybe", "encoding": "CSV"},
            "eventMetadata": {"inferenceId": "x"},
        }
    ]
    status, _, body = post(f"{server.url}/labels", orjson.dumps(bad), FEATURES_JSON)
    assert status == 400 and b"maybe" in body
