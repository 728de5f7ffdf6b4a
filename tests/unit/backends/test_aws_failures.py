"""Bad input and refused calls on the aws backend, through the CLI: a missing bucket, a denied
call, a throttled call, names SageMaker would refuse and an endpoint create refused half-way.
Each is one sentence and a non-zero exit, and leaves nothing half-made behind.

The refusals are real answers over HTTP: moto's own IAM enforcement (``/moto-api/reset-auth``
and a user whose policy denies the call) for S3, and for the JSON-protocol services a proxy
on a loopback port in front of moto (tests/aws.py ``AwsProxy``) that answers the chosen
operation as AWS refuses it. moto's IAM enforcement answers those services with a query-protocol
XML body, which botocore reads as code ``403`` with the XML as the message, where AWS answers
``{"__type": "AccessDeniedException", "message": ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from driftloop.backends.catalog import Backends
from driftloop.config import AWS_SERVICES, Settings
from driftloop.data.generator import generate
from driftloop.errors import CloudError
from driftloop.registry.base import CHAMPION
from tests.aws import BUCKET, REGION, AwsProxy, settings_for
from tests.sagemaker import NAME, PASSED, ROLE, RUN

ONE_SENTENCE = ". "
"""What no message may contain: a second sentence."""


def _config(path: Path, settings: Settings, url: str, kind: str = "aws", **aws: Any) -> Path:
    """A driftloop.toml on backend ``kind``: every service at ``url``, ``aws`` overriding."""
    table = {
        "region": REGION,
        "bucket": BUCKET,
        "prefix": "churn",
        "role_arn": ROLE,
        "max_attempts": 1,
        **aws,
    }
    urls = ", ".join(f'"{service}" = "{url}"' for service in AWS_SERVICES)
    lines = [
        f"home = {json.dumps(str(settings.home))}",
        f'[backend]\nkind = "{kind}"',
        "[aws]",
        *(f"{key} = {json.dumps(value)}" for key, value in table.items()),
        f"endpoint_urls = {{{urls}}}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _error(done: Any) -> str:
    """The one ``error:`` line the CLI printed (asserting there is exactly one sentence)."""
    errors = [line for line in done.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.err
    message = errors[0].removeprefix("error: ")
    assert ONE_SENTENCE not in message.rstrip("."), message
    return message


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """aws settings against a freshly reset moto (bucket created), naming a role."""
    found = settings_for("aws", tmp_path / ".driftloop", request)
    return found.model_copy(update={"aws": found.aws.model_copy(update={"role_arn": ROLE})})


@pytest.fixture
def registered(settings: Settings, saved_model: str) -> Settings:
    """``settings`` with v1 of the model registered (a SageMaker model package) as champion."""
    stores = Backends.from_settings(settings)
    stores.registry.create_version(NAME, saved_model, RUN, PASSED)
    stores.registry.set_alias(NAME, CHAMPION, 1)
    return settings


def _made(moto_url: str) -> tuple[list[str], list[str], list[str]]:
    """Every endpoint, endpoint config and model on moto's SageMaker."""
    sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_url)
    return (
        [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]],
        [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]],
        [m["ModelName"] for m in sagemaker.list_models()["Models"]],
    )


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["events", "list"], "s3://no-such-bucket/churn/events/: the bucket does not exist"),
        (["endpoints", "list"], "s3://no-such-bucket/churn/endpoints/: the bucket does not"),
        (["backend", "check"], "backend aws: bucket: s3://no-such-bucket does not exist"),
    ],
)
def test_a_missing_bucket_is_one_sentence_and_exit_13(
    cli: Any, tmp_path: Path, settings: Settings, moto_url: str, command: list[str], says: str
) -> None:
    config = _config(tmp_path / "c.toml", settings, moto_url, bucket="no-such-bucket")
    done = cli("--config", str(config), *command)
    assert done.code == 13 == CloudError.exit_code
    assert says in _error(done)


@contextmanager
def _moto_enforcing_iam(moto_url: str) -> Iterator[None]:
    """moto checks every call against IAM (signatures, keys, policies) inside the block."""
    requests.post(f"{moto_url}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    try:
        yield
    finally:
        requests.post(f"{moto_url}/moto-api/reset-auth", data=b"inf", timeout=10)


@pytest.fixture
def denied_put_object(
    settings: Settings, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """moto (reset by ``settings``) enforcing IAM, with the credentials of a user allowed
    everything but s3:PutObject."""
    iam = boto3.client("iam", region_name=REGION, endpoint_url=moto_url)
    iam.create_user(UserName="ci")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName="ci", PolicyName="no-uploads", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="ci")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    with _moto_enforcing_iam(moto_url):
        yield


def test_a_denied_call_names_the_operation_and_the_resource(
    cli: Any, tmp_path: Path, settings: Settings, moto_url: str, denied_put_object: None
) -> None:
    raw = tmp_path / "telco.csv"
    generate(300, seed=3).to_csv(raw, index=False)
    config = _config(tmp_path / "c.toml", settings, moto_url, kind="local")  # snapshots here
    upload = ["--input-csv", str(raw), "--upload", "--s3-bucket", BUCKET, "--s3-prefix", "up"]
    done = cli("--config", str(config), "preprocess", *upload)
    assert done.code == 13
    assert _error(done) == (
        f"s3://{BUCKET}/up/prepared/train.csv: s3 PutObject was denied (AccessDenied: Access "
        "Denied); the AWS credentials in use need permission for it"
    )
    user = boto3.session.Session(region_name=REGION)  # the user's keys: listing is allowed
    s3 = user.client("s3", endpoint_url=moto_url)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="up/").get("KeyCount") == 0


def test_credentials_aws_does_not_know_are_one_sentence(
    cli: Any, tmp_path: Path, settings: Settings, moto_url: str
) -> None:
    config = _config(tmp_path / "c.toml", settings, moto_url)
    with _moto_enforcing_iam(moto_url):  # the environment's keys belong to no IAM user
        done = cli("--config", str(config), "events", "list")
    assert done.code == 13
    assert _error(done) == (
        f"s3://{BUCKET}/churn/events/: s3 ListObjectsV2 was refused: AWS does not accept the "
        "credentials (InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in "
        "our records.)"
    )


def test_a_throttled_call_says_so_after_its_attempts(
    cli: Any, tmp_path: Path, settings: Settings, moto_url: str
) -> None:
    refuse = {"AWSEvents.PutRule": ("ThrottlingException", "Rate exceeded")}
    with AwsProxy(moto_url, refuse) as proxy:
        config = _config(tmp_path / "c.toml", settings, proxy.url, max_attempts=3)
        pattern = '{"source": ["driftloop.monitoring"]}'
        done = cli(
            "--config",
            str(config),
            "rules",
            "put",
            "drift",
            "--event-pattern",
            pattern,
            "--target",
            '{"type": "retrain"}',
        )
    assert done.code == 13
    assert _error(done) == (
        "rule 'drift': events PutRule was throttled (ThrottlingException: Rate exceeded) after "
        "3 attempts; try again later or raise aws.max_attempts"
    )
    assert proxy.operations().count("AWSEvents.PutRule") == 3  # botocore's retries, then none
    events = boto3.client("events", region_name=REGION, endpoint_url=moto_url)
    assert events.list_rules()["Rules"] == []


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["churn_v2"], "name 'churn_v2' is not one SageMaker takes"),
        (["churn-"], "name 'churn-' is not one SageMaker takes"),
        (["e" * 64], f"name '{'e' * 64}' is not one SageMaker takes: at most 63 letters"),
    ],
)
def test_a_name_sagemaker_refuses_is_refused_before_any_aws_call(
    cli: Any, tmp_path: Path, settings: Settings, moto_url: str, arguments: list[str], says: str
) -> None:
    with AwsProxy(moto_url) as proxy:
        config = _config(tmp_path / "c.toml", settings, proxy.url)
        done = cli("--config", str(config), "endpoints", "create", *arguments)
    assert done.code == 2
    assert says in _error(done)
    assert proxy.seen == []


def test_a_name_whose_endpoint_config_would_be_too_long_makes_nothing(
    cli: Any, tmp_path: Path, registered: Settings, moto_url: str
) -> None:
    """63 characters pass as an endpoint name, but ``<name>-1`` cannot name its config."""
    with AwsProxy(moto_url) as proxy:
        config = _config(tmp_path / "c.toml", registered, proxy.url)
        done = cli("--config", str(config), "endpoints", "create", "e" * 63)
    assert done.code == 2
    assert f"endpoint config 'e{'e' * 62}-1' would pass 63 characters" in _error(done)
    made = [op for op in proxy.operations() if op.startswith(("SageMaker.Create", "PUT "))]
    assert made == []
    assert _made(moto_url) == ([], [], [])


def test_an_endpoint_create_refused_half_way_removes_what_it_made(
    cli: Any, tmp_path: Path, registered: Settings, moto_url: str
) -> None:
    denial = "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: " + (
        "sagemaker:CreateEndpoint on resource: arn:aws:sagemaker:us-east-1:123456789012:"
        "endpoint/churn because no identity-based policy allows the sagemaker:CreateEndpoint "
        "action"
    )
    refuse = {"SageMaker.CreateEndpoint": ("AccessDeniedException", denial)}
    with AwsProxy(moto_url, refuse) as proxy:
        config = _config(tmp_path / "c.toml", registered, proxy.url)
        done = cli("--config", str(config), "endpoints", "create", "churn")
    assert done.code == 13
    assert _error(done) == (
        f"churn: sagemaker CreateEndpoint was denied (AccessDeniedException: {denial}); the "
        "AWS credentials in use need permission for it"
    )
    sagemaker = [op.removeprefix("SageMaker.") for op in proxy.operations() if "SageMaker." in op]
    made = [op for op in sagemaker if op.startswith(("Create", "Delete"))]
    assert made == [
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
        "DeleteEndpointConfig",
        "DeleteModel",
    ]
    assert _made(moto_url) == ([], [], [])
    assert Backends.from_settings(registered).endpoints.list() == []  # no record either
