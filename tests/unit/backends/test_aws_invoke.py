"""`driftloop invoke` on the aws backend against moto: the settings' region and runtime URL, the
options as InvokeEndpoint's fields, and one sentence for what SageMaker refuses.

moto's InvokeEndpoint answers canned results (queued through its moto-api) for any endpoint
name, so for the length of a test its runtime is taught what SageMaker answers: ValidationError
"Endpoint ... not found." for an endpoint it does not have and 424 ModelError when the model
fails (here: the endpoint named ``failing``). It also records each request it gets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.core.exceptions import JsonRESTError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from driftloop.demo.endpoint import free_port
from tests.aws import BUCKET, REGION
from tests.conftest import CliResult
from tests.sagemaker import ROLE

Cli = Callable[..., CliResult]
Seen = list[dict[str, Any]]
ANSWER = {"predictions": [{"probability": 0.75, "label": 1}], "variant": "Blue"}


class ModelFailed(JsonRESTError):
    code = 424  # SageMaker's status for a model that failed


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Seen:
    """Every InvokeEndpoint moto's runtime gets; it refuses what SageMaker would."""
    got: Seen = []
    original = SageMakerRuntimeResponse.invoke_endpoint

    def handle(self: SageMakerRuntimeResponse) -> Any:
        name = self.path.split("/")[2]
        got.append({"endpoint": name, "headers": dict(self.headers), "body": self.body})
        if name not in sagemaker_backends[self.current_account][self.region].endpoints:
            message = f"Endpoint {name} of account {self.current_account} not found."
            raise JsonRESTError("ValidationError", message)
        if name == "failing":
            message = 'Received client error (400) from primary with message "bad row".'
            raise ModelFailed("ModelError", message)
        return original(self)

    monkeypatch.setattr(SageMakerRuntimeResponse, "invoke_endpoint", handle)
    return got


@pytest.fixture
def moto(moto_url: str, home: Path) -> str:
    """A fresh moto with endpoints ``churn`` (variant Blue) and ``failing``, and aws settings
    in ./driftloop.toml whose runtime URL is moto's."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_url)
    sagemaker.create_model(
        ModelName="churn-model-1",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/driftloop"},
    )
    variant = {
        "VariantName": "Blue",
        "ModelName": "churn-model-1",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    for name in ("churn", "failing"):
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    (home.parent / "driftloop.toml").write_text(
        f'[backend]\nkind = "aws"\n[aws]\nregion = "{REGION}"\nbucket = "{BUCKET}"\n'
        f'max_attempts = 1\nendpoint_urls = {{"sagemaker-runtime" = "{moto_url}"}}\n'
    )
    return moto_url


def _queue(url: str, body: str, content_type: str, variant: str) -> None:
    """The next answer of moto's InvokeEndpoint."""
    result = {"Body": body, "ContentType": content_type, "InvokedProductionVariant": variant}
    sent = requests.post(
        f"{url}/moto-api/static/sagemaker/endpoint-results", json={"results": [result]}, timeout=10
    )
    sent.raise_for_status()


def test_invoke_prints_the_endpoints_answer_and_sends_every_option(
    moto: str, seen: Seen, cli: Cli
) -> None:
    _queue(moto, json.dumps(ANSWER), "application/json", "Blue")
    result = cli(
        "invoke", "churn", "--body", "7.5,2", "--content-type", "text/csv",
        "--accept", "application/json", "--target-variant", "Blue", "--inference-id", "order-17",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out) == ANSWER
    assert "answered by variant Blue" in result.err
    [request] = seen
    headers = {key.lower(): value for key, value in request["headers"].items()}
    assert request["endpoint"] == "churn" and request["body"] == "7.5,2"
    assert headers["content-type"] == "text/csv" and headers["accept"] == "application/json"
    assert headers["x-amzn-sagemaker-target-variant"] == "Blue"
    assert headers["x-amzn-sagemaker-inference-id"] == "order-17"
    assert f"/{REGION}/sagemaker/aws4_request" in headers["authorization"]  # signed, the region


def test_an_answer_written_to_a_file(moto: str, seen: Seen, cli: Cli, tmp_path: Path) -> None:
    _queue(moto, "0.75,1\n", "text/csv", "Blue")
    out = tmp_path / "answer.csv"
    result = cli("invoke", "churn", "--body", "7.5,2", "-t", "text/csv", "-o", str(out))
    assert result.code == 0, result.err
    assert out.read_text() == "0.75,1\n" and result.out == ""


def test_an_unknown_endpoint_is_not_found(moto: str, seen: Seen, cli: Cli) -> None:
    result = cli("invoke", "nope", "--body", "{}")
    assert result.code == 4
    assert f"endpoint 'nope' not found at {moto}" in result.err


def test_a_model_error_gives_the_models_message(moto: str, seen: Seen, cli: Cli) -> None:
    result = cli("invoke", "failing", "--body", "{}")
    assert result.code == 1
    assert "endpoint 'failing': the model failed:" in result.err
    assert 'message "bad row"' in result.err


def test_an_unreachable_runtime_names_its_url(moto: str, cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("invoke", "churn", "--body", "{}", "--url", url)
    assert result.code == 13
    assert f"nothing answers at {url}" in result.err


def test_no_region_is_one_sentence(
    home: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    (home.parent / "driftloop.toml").write_text(
        f'[backend]\nkind = "aws"\n[aws]\nbucket = "{BUCKET}"\n'
    )
    result = cli("invoke", "churn", "--body", "{}")
    assert result.code == 13
    assert "no AWS region: set aws.region or AWS_REGION" in result.err
