"""The guide's flow end to end on the aws backend, against moto's server: preprocess and upload,
a SageMaker training job, the model package approved, an endpoint with data capture, an invoke,
the latency alarm in ALARM with its notification read back from SQS, and the drift event routed
by EventBridge to the delivery queue, where the agent picks it up and retrains.

Where moto does less than AWS the test does the rest itself, and says so where it does:

- moto records a training job but runs nothing: ``train_model.py`` runs here from the job's own
  request (tests/integration/test_sagemaker_training.py's ``run_job``);
- moto's endpoint answers canned results and captures nothing: the answer is queued (what
  driftloop's container would answer, from the registered model), and the capture SageMaker
  would write is put where the endpoint config's DataCaptureConfig points;
- moto's SageMaker emits no endpoint metrics: the ModelLatency datapoints are put as SageMaker
  would put them;
- moto's CloudWatch runs no alarm actions and puts no "CloudWatch Alarm State Change" events:
  the test publishes what CloudWatch publishes to the alarm's SNS action, and puts the event on
  the default bus as CloudWatch does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import orjson
import pandas as pd
import pytest
import requests
from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend

from driftloop.agent import Agent
from driftloop.alarms.evaluate import Evaluation
from driftloop.backends.catalog import Backends
from driftloop.config import Settings, load_settings
from driftloop.data.dataset import read_typed
from driftloop.data.generator import generate
from driftloop.monitoring.target import served_spec
from tests.aws import BUCKET, REGION, AwsProxy, settings_for
from tests.integration.test_sagemaker_training import run_job
from tests.sagemaker import ROLE
from tests.unit.backends.test_aws_training import IMAGE

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TELCO = ROOT.parent / "shared" / "data" / "telco_customer_churn.csv"
MODEL, ENDPOINT, VARIANT, ALARM = "churn-model", "churn", "AllTraffic", "HighLatencyAlarm"
INBOX = "ops-inbox"
"""The SQS queue subscribed to topic ``ops`` (driftloop's notifications config, sqs protocol)."""
DRIFTED_ROWS = 600
DRIFT_RULE = {
    "source": ["driftloop.monitoring"],
    "detail-type": ["Monitoring Run Completed"],
    "detail": {"status": ["CompletedWithViolations"]},
}
GUIDE_ALARM = f"""alarms put --alarm-name {ALARM} --metric-name ModelLatency
    --namespace AWS/SageMaker --statistic Average --period 60 --threshold 1000
    --comparison-operator GreaterThanThreshold --evaluation-periods 2
    --dimensions Name=EndpointName,Value={ENDPOINT} --dimensions Name=VariantName,Value={VARIANT}
    --alarm-actions ops"""
"""The guide's ``driftloop alarms put`` (its action a topic name, which becomes the ARN)."""
ALARM_RULE = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "detail": {"state": {"value": ["ALARM"]}},
}


@pytest.fixture
def aws(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """boto3 clients of a freshly reset moto, whose bucket exists (versioned)."""
    settings_for("aws", tmp_path / "unused", request)
    url = request.getfixturevalue("moto_url")
    services = ("s3", "sqs", "sns", "events", "cloudwatch", "sagemaker", "sagemaker-runtime")
    return {
        "url": url,
        **{s: boto3.client(s, region_name=REGION, endpoint_url=url) for s in services},
    }


@pytest.fixture
def config(tmp_path: Path, aws: dict[str, Any]) -> Path:
    """The guide's driftloop.toml: the aws kind, topic ``ops`` delivering to an SQS queue,
    approval required, no default rules (the test puts its own)."""
    inbox = aws["sqs"].create_queue(QueueName=INBOX)["QueueUrl"]
    arn = aws["sqs"].get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    urls = ", ".join(
        f'"{s}" = "{aws["url"]}"'
        for s in ("s3", "cloudwatch", "sns", "events", "sqs", "sagemaker", "sts")
    )
    text = f"""
home = {json.dumps(str(tmp_path / ".driftloop"))}
rules = []

[backend]
kind = "aws"

[training]
candidates = ["logistic_regression"]

[gate]
min_metrics = {{roc_auc = 0.6}}
require_approval = true

[retrain]
min_labels = 100

[aws]
region = "{REGION}"
bucket = "{BUCKET}"
prefix = "churn"
role_arn = "{ROLE}"
training_image = "{IMAGE}"
inference_image = "{IMAGE}"
max_attempts = 1
endpoint_urls = {{{urls}}}

[[notifications.topics]]
name = "ops"
[[notifications.topics.subscriptions]]
protocol = "sqs"
endpoint = "{arn["Attributes"]["QueueArn"]}"
"""
    path = tmp_path / "driftloop.toml"
    path.write_text(text)
    return path


@pytest.fixture
def sagemaker_runs_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_url: str
) -> Iterator[None]:
    """moto's training jobs run as SageMaker would run them (moto itself runs nothing)."""
    threads: list[threading.Thread] = []
    original = SageMakerModelBackend.create_training_job

    def create(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> FakeTrainingJob:
        job = original(self, *args, **kwargs)
        job.training_job_status, job.secondary_status = "InProgress", "Training"
        work = threading.Thread(target=run_job, args=(job, moto_url, tmp_path / "opt-ml"))
        threads.append(work)
        work.start()
        return job

    monkeypatch.setattr(SageMakerModelBackend, "create_training_job", create)
    yield
    for work in threads:
        work.join(timeout=300)


def test_the_guides_flow_runs_on_aws(
    cli: Callable[..., Any],
    config: Path,
    aws: dict[str, Any],
    sagemaker_runs_jobs: None,
    tmp_path: Path,
) -> None:
    run = _runner(cli, config)
    prepared = _preprocess_and_upload(config, aws, tmp_path / "prepared")
    _train_on_sagemaker(run, prepared, aws)
    _approve(run, aws)
    settings = load_settings(config)
    _create_endpoint_with_capture(run, aws)
    drifted = _invoke_and_capture(settings, aws, tmp_path)
    _latency_alarm_notifies_the_inbox(run, settings, aws)

    # drift -> retrain: EventBridge routes the monitoring run's event to driftloop's queue
    assert "rule drift stored with 1 target(s)" in run(
        "rules", "put", "drift", *_to_retrain(DRIFT_RULE)
    )
    run("labels", "put", str(_labels(drifted, tmp_path)), "--endpoint", ENDPOINT)
    run("monitor", "run", "--endpoint", ENDPOINT, "--last", "1h", "--no-report")
    stores = Backends.from_settings(settings)
    [monitoring] = _events(stores, "Monitoring Run Completed")
    assert monitoring["detail"]["status"] == "CompletedWithViolations", monitoring["detail"]
    assert "MonthlyCharges" in monitoring["detail"]["drifted_columns"]

    agent = Agent(settings)
    agent.tick(datetime.now(UTC))
    [started] = _events(stores, "Retraining Started")
    [completed] = _events(stores, "Retraining Completed")
    assert started["detail"]["trigger"] == monitoring["id"]  # EventBridge's id, via SQS
    assert (completed["detail"]["endpoint"], completed["detail"]["version"]) == (ENDPOINT, 2)
    assert completed["detail"]["labelled_rows"] == DRIFTED_ROWS
    retrained = stores.registry.get_version(MODEL, 2)
    assert retrained.tags.get("pipeline_run") == completed["detail"]["pipeline_run"]
    assert len(_packages(aws)) == 2  # v2 mirrored as a second model package
    [done] = stores.events.deliveries()
    assert (done["rule"], done["event_id"], done["target_type"]) == (
        "drift",
        monitoring["id"],
        "retrain",
    )

    # CloudWatch's own state change event reaches the agent through the same queue
    run("rules", "put", "latency", *_to_retrain(ALARM_RULE))
    alarm_event = _put_alarm_state_change(settings, aws)
    agent.tick(datetime.now(UTC))
    [skipped] = _events(stores, "Retraining Skipped")
    assert skipped["detail"]["trigger"] == alarm_event
    assert skipped["detail"]["endpoint"] == ENDPOINT  # read from the alarm's dimensions
    assert skipped["detail"]["reason"].startswith("cooldown: last retrain")
    assert next((d["rule"], d["event_id"]) for d in stores.events.deliveries()) == (
        "latency",
        alarm_event,
    )
    assert stores.events.dead_letters() == [] and stores.events.retries() == []


def _to_retrain(pattern: dict[str, Any]) -> list[str]:
    """``rules put`` options: ``pattern`` -> a retrain target (EventBridge -> aws.queue)."""
    return ["--event-pattern", json.dumps(pattern), "--target", '{"type": "retrain"}']


def _runner(cli: Callable[..., Any], config: Path) -> Callable[..., str]:
    """``driftloop --config <config> ...`` in-process; its output, after asserting exit 0."""

    def run(*args: str) -> str:
        done = cli("--config", str(config), *args)
        assert done.code == 0, f"driftloop {' '.join(args)}: {done.err}"
        return str(done.out)

    return run


def _preprocess_and_upload(config: Path, aws: dict[str, Any], out: Path) -> Path:
    """The guide's ``python preprocess_telco.py ... --upload --s3-bucket B`` on the real file."""
    guide = ["--input-csv", str(TELCO), "--output-dir", str(out), "--upload", "--s3-bucket"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "preprocess_telco.py"), *guide, BUCKET],
        env={**os.environ, "DRIFTLOOP_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in ("train.csv", "val.csv", "manifest.json"):
        assert f"uploaded s3://{BUCKET}/churn/prepared/{name}" in done.stdout
        body = aws["s3"].get_object(Bucket=BUCKET, Key=f"churn/prepared/{name}")["Body"]
        assert body.read() == (out / name).read_bytes()
    return out


def _train_on_sagemaker(run: Callable[..., str], prepared: Path, aws: dict[str, Any]) -> None:
    """``train --on sagemaker``: the job is requested, runs, and its model is registered
    pending approval (``gate.require_approval``), as a model package."""
    data = ["--train", str(prepared / "train.csv"), "--val", str(prepared / "val.csv")]
    out = run("train", "--on", "sagemaker", "--poll", "0.2s", *data)
    assert "registered churn-model v1 (logistic_regression); gate passed" in out
    assert "approval PendingManualApproval" in out
    [job] = aws["sagemaker"].list_training_jobs()["TrainingJobSummaries"]
    assert job["TrainingJobStatus"] == "Completed"
    described = aws["sagemaker"].describe_training_job(TrainingJobName=job["TrainingJobName"])
    assert described["HyperParameters"]["sagemaker_program"] == '"train_model.py"'
    assert [p["ModelApprovalStatus"] for p in _packages(aws)] == ["PendingManualApproval"]


def _approve(run: Callable[..., str], aws: dict[str, Any]) -> None:
    out = run("models", "approve", "1")
    assert "churn-model v1 approved and champion: approval Approved" in out
    [package] = _packages(aws)
    assert package["ModelApprovalStatus"] == "Approved"  # SageMaker follows the approval


def _packages(aws: dict[str, Any]) -> list[dict[str, Any]]:
    listed = aws["sagemaker"].list_model_packages(ModelPackageGroupName=MODEL)
    return list(listed["ModelPackageSummaryList"])


def _create_endpoint_with_capture(run: Callable[..., str], aws: dict[str, Any]) -> None:
    out = run("endpoints", "create", ENDPOINT, "--capture-percent", "100")
    assert f"endpoint {ENDPOINT} revision 1: {VARIANT}=champion" in out
    endpoint = aws["sagemaker"].describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointConfigName"] == f"{ENDPOINT}-1"
    described = aws["sagemaker"].describe_endpoint_config(EndpointConfigName=f"{ENDPOINT}-1")
    capture = described["DataCaptureConfig"]
    assert (capture["EnableCapture"], capture["InitialSamplingPercentage"]) == (True, 100)
    assert capture["DestinationS3Uri"] == f"s3://{BUCKET}/churn/datacapture"
    [variant] = described["ProductionVariants"]
    model = aws["sagemaker"].describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == _packages(aws)[0]["ModelPackageArn"]


def _invoke_and_capture(settings: Settings, aws: dict[str, Any], tmp_path: Path) -> pd.DataFrame:
    """One invoke of drifted customers through sagemaker-runtime, captured; returns them,
    labelled. moto answers a queued canned result: here what driftloop's container answers
    (CSV lines ``probability,label,version,variant``), computed with the registered v1."""
    drifted = generate(DRIFTED_ROWS, seed=11, scenario="price_shock", strength=1.0)
    path = tmp_path / "drifted.csv"
    drifted.to_csv(path, index=False)
    model = Backends.from_settings(settings).registry.load_model(MODEL, 1)
    spec, threshold = served_spec(MODEL, 1)
    typed, _ = read_typed(path, settings.data, spec=spec)
    proba = model.predict_proba(typed[spec.features])[:, 1]
    answer = "".join(
        f"{p:.6f},{spec.positive_label if p >= threshold else spec.negative_label},1,{VARIANT}\n"
        for p in proba
    )
    queued = {
        "results": [
            {"Body": answer, "ContentType": "text/csv", "InvokedProductionVariant": VARIANT}
        ]
    }
    requests.post(
        f"{aws['url']}/moto-api/static/sagemaker/endpoint-results", json=queued, timeout=10
    ).raise_for_status()
    body = drifted.drop(columns=["customerID", "Churn"]).to_csv(index=False)
    answered = aws["sagemaker-runtime"].invoke_endpoint(
        EndpointName=ENDPOINT,
        Body=body.encode(),
        ContentType="text/csv",
        Accept="text/csv",
        InferenceId="batch-1",
    )
    assert answered["InvokedProductionVariant"] == VARIANT
    returned = answered["Body"].read().decode()
    assert len(returned.splitlines()) == DRIFTED_ROWS
    _capture(aws, body, returned)
    return drifted


def _capture(aws: dict[str, Any], request: str, response: str) -> None:
    """The record SageMaker's data capture writes for the invoke, where the endpoint config's
    DataCaptureConfig points (moto's endpoint captures nothing)."""
    when = datetime.now(UTC)
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": request,
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv",
                "mode": "OUTPUT",
                "data": response,
                "encoding": "CSV",
            },
        },
        "eventMetadata": {
            "eventId": "00000000-0000-4000-8000-000000000001",
            "inferenceId": "batch-1",
            "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "eventVersion": "0",
    }
    config = aws["sagemaker"].describe_endpoint_config(EndpointConfigName=f"{ENDPOINT}-1")
    destination = config["DataCaptureConfig"]["DestinationS3Uri"]
    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    key = f"{prefix}/{ENDPOINT}/{VARIANT}/{when:%Y/%m/%d/%H}/{when:%M-%S}-000-moto.jsonl"
    aws["s3"].put_object(Bucket=bucket, Key=key, Body=orjson.dumps(record) + b"\n")


def _labels(drifted: pd.DataFrame, tmp_path: Path) -> Path:
    """Ground truth of each row of the one request: row n is ``batch-1#n``."""
    path = tmp_path / "labels.csv"
    ids = [f"batch-1#{n}" for n in range(1, len(drifted) + 1)]
    pd.DataFrame({"inference_id": ids, "label": drifted["Churn"]}).to_csv(path, index=False)
    return path


def _latency_alarm_notifies_the_inbox(
    run: Callable[..., str], settings: Settings, aws: dict[str, Any]
) -> None:
    """The guide's HighLatencyAlarm, put through driftloop's alarm store and driven to ALARM;
    what CloudWatch then publishes to its SNS action arrives in the subscribed SQS queue."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    aws["cloudwatch"].put_metric_data(  # what the endpoint reports; moto's reports nothing
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "ModelLatency",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": ENDPOINT},
                    {"Name": "VariantName", "Value": VARIANT},
                ],
                "Timestamp": now - timedelta(minutes=minutes),
                "Value": 2500.0,
                "Unit": "Microseconds",
            }
            for minutes in (1, 2)
        ],
    )
    put = run(*GUIDE_ALARM.split())
    assert f"alarm {ALARM} stored" in put
    [described] = aws["cloudwatch"].describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    [topic] = described["AlarmActions"]
    assert topic == f"arn:aws:sns:{REGION}:123456789012:ops"

    reason = "Threshold Crossed: 2 datapoints [2500.0, 2500.0] were greater than the threshold"
    alarms = Backends.from_settings(settings).alarms
    changed = alarms.set_state(ALARM, Evaluation("ALARM", reason))
    assert changed is not None and changed[1] == "ALARM"
    stored = alarms.get(ALARM)
    assert (stored.state, stored.reason) == ("ALARM", reason)

    # moto runs no alarm actions: publish what CloudWatch publishes to the action's topic
    [raw] = aws["cloudwatch"].describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    aws["sns"].publish(
        TopicArn=topic,
        Subject=f'ALARM: "{ALARM}" in US East (N. Virginia)',
        Message=json.dumps(_alarm_notification(raw, "OK")),
    )
    inbox = aws["sqs"].get_queue_url(QueueName=INBOX)["QueueUrl"]
    [message] = aws["sqs"].receive_message(QueueUrl=inbox, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(message["Body"])
    assert (envelope["Type"], envelope["TopicArn"]) == ("Notification", topic)
    assert envelope["Subject"].startswith(f'ALARM: "{ALARM}"')
    notification = json.loads(envelope["Message"])
    assert (notification["AlarmName"], notification["NewStateValue"]) == (ALARM, "ALARM")
    assert notification["NewStateReason"] == reason
    assert notification["Trigger"]["Threshold"] == 1000.0


def _alarm_notification(raw: dict[str, Any], old: str) -> dict[str, Any]:
    """The JSON CloudWatch publishes to an alarm's SNS action, from DescribeAlarms."""
    return {
        "AlarmName": raw["AlarmName"],
        "AlarmDescription": raw.get("AlarmDescription"),
        "AWSAccountId": raw["AlarmArn"].split(":")[4],
        "AlarmConfigurationUpdatedTimestamp": raw["AlarmConfigurationUpdatedTimestamp"].isoformat(),
        "NewStateValue": raw["StateValue"],
        "NewStateReason": raw["StateReason"],
        "StateChangeTime": raw["StateUpdatedTimestamp"].isoformat(),
        "Region": "US East (N. Virginia)",
        "AlarmArn": raw["AlarmArn"],
        "OldStateValue": old,
        "OKActions": raw["OKActions"],
        "AlarmActions": raw["AlarmActions"],
        "InsufficientDataActions": raw["InsufficientDataActions"],
        "Trigger": {
            "MetricName": raw["MetricName"],
            "Namespace": raw["Namespace"],
            "StatisticType": "Statistic",
            "Statistic": raw["Statistic"].upper(),
            "Unit": None,
            "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in raw["Dimensions"]],
            "Period": raw["Period"],
            "EvaluationPeriods": raw["EvaluationPeriods"],
            "ComparisonOperator": raw["ComparisonOperator"],
            "Threshold": raw["Threshold"],
            "TreatMissingData": raw.get("TreatMissingData", "missing"),
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def _put_alarm_state_change(settings: Settings, aws: dict[str, Any]) -> str:
    """The "CloudWatch Alarm State Change" event CloudWatch puts on the default bus (moto's
    CloudWatch puts none); its EventBridge id."""
    [raw] = aws["cloudwatch"].describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    stamp = raw["StateUpdatedTimestamp"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    detail = {
        "alarmName": ALARM,
        "state": {"value": "ALARM", "reason": raw["StateReason"], "timestamp": stamp},
        "previousState": {"value": "OK", "reason": "", "timestamp": stamp},
        "configuration": {
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "namespace": raw["Namespace"],
                            "name": raw["MetricName"],
                            "dimensions": {d["Name"]: d["Value"] for d in raw["Dimensions"]},
                        },
                        "period": raw["Period"],
                        "stat": raw["Statistic"],
                    },
                    "returnData": True,
                }
            ]
        },
    }
    answer = aws["events"].put_events(
        Entries=[
            {
                "Source": "aws.cloudwatch",
                "DetailType": "CloudWatch Alarm State Change",
                "Resources": [raw["AlarmArn"]],
                "Detail": json.dumps(detail),
                "EventBusName": settings.aws.event_bus,
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0
    return str(answer["Entries"][0]["EventId"])


def _events(stores: Backends, kind: str) -> list[dict[str, Any]]:
    return [e for e in stores.events.read_events() if e["detail-type"] == kind]


def test_reading_every_captured_hour_lists_only_the_hours_captured(
    tmp_path: Path, request: pytest.FixtureRequest, moto_url: str
) -> None:
    """A retrain reads every captured hour (``retrain.window`` unset: since 1970): the S3
    capture store walks the hour folders that exist rather than listing each hour since."""
    settings = settings_for("aws", tmp_path / ".driftloop", request)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_url)
    hours = ["2025/06/01/10", "2026/01/31/23"]
    for hour in [*hours, "2099/01/01/00", "notes"]:  # the future and a stray folder are left out
        line = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": "1",
                    "encoding": "CSV",
                }
            },
            "eventMetadata": {"eventId": hour, "inferenceTime": "2025-06-01T10:00:00Z"},
            "eventVersion": "0",
        }
        key = f"team/churn/datacapture/{ENDPOINT}/{VARIANT}/{hour}/00-00-000-x.jsonl"
        s3.put_object(Bucket=BUCKET, Key=key, Body=orjson.dumps(line) + b"\n")
    with AwsProxy(moto_url) as proxy:
        urls = dict.fromkeys(settings.aws.endpoint_urls, proxy.url)
        aws = settings.aws.model_copy(update={"endpoint_urls": urls})
        capture = Backends.from_settings(settings.model_copy(update={"aws": aws})).capture
        since, until = datetime(1970, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
        records = capture.read_records(ENDPOINT, VARIANT, since=since, until=until)
        read = [record["eventMetadata"]["eventId"] for record in records]
    assert read == hours
    assert len(proxy.seen) < 20, len(proxy.seen)  # folders by level, then each hour's files
