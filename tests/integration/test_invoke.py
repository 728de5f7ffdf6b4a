"""`driftloop invoke` against a real local endpoint server (with an API key, so the key travels
too): the same answer as a direct POST, the record captured, one sentence for each failure."""

from __future__ import annotations

import io
import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pandas as pd
import pytest

from driftloop.data.generator import generate
from driftloop.demo.endpoint import free_port
from driftloop.serving.endpoint_config import EndpointConfig, Fault, Variant
from tests.conftest import CliResult
from tests.servers import Server, post, start_server
from tests.workspaces import endpoint_store, service_env, settings_for, trained

pytestmark = pytest.mark.slow
KEY = "invoke-test-key"
Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Endpoint churn: AllTraffic (v1) answers, Broken (no weight: only when named) always
    fails; every request is captured."""
    folder = tmp_path_factory.mktemp("invoke")
    trained(folder, seed=7)
    broken = Variant(name="Broken", model="1", weight=0, fault=Fault(error_percent=100))
    variants = (Variant(name="AllTraffic", model="1"), broken)
    config = EndpointConfig(name="churn", model_name="churn-model", variants=variants)
    endpoint_store(settings_for(folder).workspace).save(config)
    return folder


@pytest.fixture(scope="module")
def server(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "server.log"
    env = {**service_env(root), "DRIFTLOOP_SERVING__API_KEY": KEY}
    running = start_server(["churn", "--workers", "1"], env, log)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture
def served(root: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """The CLI's environment: the server's workspace, port and API key (no --url needed)."""
    for key in list(os.environ):
        if key.startswith("DRIFTLOOP_"):
            monkeypatch.delenv(key)
    env = {**service_env(root), "DRIFTLOOP_SERVING__API_KEY": KEY}
    env["DRIFTLOOP_SERVING__PORT"] = str(server.port)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(root)
    return server


def _rows(count: int, seed: int) -> pd.DataFrame:
    """Generated feature rows in the model's column order."""
    return generate(count, seed=seed).drop(columns=["customerID", "Churn"])


def _direct(server: Server, body: bytes, content_type: str, accept: str) -> bytes:
    headers = {"content-type": content_type, "accept": accept, "authorization": f"Bearer {KEY}"}
    status, _, answer = post(f"{server.url}/endpoints/churn/invocations", body, headers)
    assert status == 200, answer
    return answer


def _captured(root: Path, inference_id: str) -> list[dict[str, object]]:
    folder = settings_for(root).workspace.capture / "churn"
    lines = [line for path in folder.rglob("*.jsonl") for line in path.read_text().splitlines()]
    records = [json.loads(line) for line in lines if line.strip()]
    return [r for r in records if r["eventMetadata"].get("inferenceId") == inference_id]


def test_a_json_body_answers_as_a_direct_post_and_is_captured(
    served: Server, root: Path, cli: Cli
) -> None:
    body = orjson.dumps(_rows(1, seed=31).to_dict(orient="records")[0])
    result = cli("invoke", "churn", "--body", body.decode(), "--inference-id", "cli-json-1")
    assert result.code == 0, result.err
    expected = _direct(served, body, "application/json", "application/json")
    assert result.out.encode().rstrip(b"\n") == expected.rstrip(b"\n")
    assert json.loads(result.out)["variant"] == "AllTraffic"
    assert "answered by variant AllTraffic (model version 1)" in result.err
    [record] = _captured(root, "cli-json-1")
    assert record["captureData"]["endpointInput"]["data"] == body.decode()  # type: ignore[index]


def test_a_csv_body_from_stdin_written_to_a_file(
    served: Server, root: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    body = _rows(3, seed=32).to_csv(index=False, header=False)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(body.encode())))
    out = tmp_path / "answer.csv"
    result = cli(
        "invoke", "churn", "--body", "-", "--content-type", "text/csv", "--accept", "text/csv",
        "--target-variant", "AllTraffic", "--inference-id", "cli-csv-1", "--output", str(out),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.out == ""
    assert out.read_bytes() == _direct(served, body.encode(), "text/csv", "text/csv")
    assert len(out.read_text().splitlines()) == 3
    assert f"wrote {out.stat().st_size} bytes to {out}" in result.err
    [record] = _captured(root, "cli-csv-1")
    output = record["captureData"]["endpointOutput"]  # type: ignore[index]
    assert output["data"] == out.read_text() and output["encoding"] == "CSV"


def test_a_body_file_by_at_sign(served: Server, cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_bytes(orjson.dumps(_rows(2, seed=33).to_dict(orient="records")))
    result = cli("invoke", "churn", "--body", f"@{path}", "--url", served.url)
    assert result.code == 0, result.err
    assert len(json.loads(result.out)["predictions"]) == 2


def test_an_unknown_endpoint_is_named(served: Server, cli: Cli) -> None:
    result = cli("invoke", "nope", "--body", "{}")
    assert result.code == 4
    assert f"endpoint 'nope' not found at {served.url}" in result.err
    assert result.out == ""


def test_a_bad_body_gives_the_servers_message(served: Server, cli: Cli) -> None:
    result = cli("invoke", "churn", "--body", '{"tenure": 1}')
    assert result.code == 3
    assert "endpoint 'churn' refused the request:" in result.err
    assert "missing column(s)" in result.err


def test_a_model_error_is_sent_once_and_gives_its_message(served: Server, cli: Cli) -> None:
    body = orjson.dumps(_rows(1, seed=34).to_dict(orient="records")[0]).decode()
    before = _model_errors(served)
    result = cli("invoke", "churn", "--body", body, "--target-variant", "Broken")
    assert result.code == 1
    assert "endpoint 'churn': the model failed: variant 'Broken' failed" in result.err
    assert _model_errors(served) == before + 1  # a 500 that botocore would retry is not


def _model_errors(server: Server) -> float:
    request = urllib.request.Request(
        f"{server.url}/metrics", headers={"authorization": f"Bearer {KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    name = 'driftloop_invocation_model_errors_total{endpoint="churn",variant="Broken"}'
    found = [line.split()[-1] for line in text.splitlines() if line.startswith(name)]
    return float(found[0]) if found else 0.0


def test_a_missing_api_key_is_refused(
    served: Server, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTLOOP_SERVING__API_KEY")
    result = cli("invoke", "churn", "--body", "{}")
    assert result.code == 8
    assert "missing or wrong API key" in result.err


def test_nothing_listening_names_the_url(served: Server, cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("invoke", "churn", "--body", "{}", "--url", url)
    assert result.code == 1
    assert f"nothing answers at {url}" in result.err
    assert "driftloop serve churn" in result.err


def test_a_missing_body_file_is_named(served: Server, cli: Cli, tmp_path: Path) -> None:
    result = cli("invoke", "churn", "--body", f"@{tmp_path / 'missing.json'}")
    assert result.code == 4
    assert f"body file not found: {tmp_path / 'missing.json'}" in result.err
